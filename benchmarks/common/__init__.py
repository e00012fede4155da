"""What the benchmarks share: resumable result cells (:mod:`.cells`) and allocator rows (:mod:`.rows`)."""
