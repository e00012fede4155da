"""The group-sparse supernet ``sparse``: every edge trained at its initial rank under a group
penalty, then pruned to the budget (:mod:`.allocator`, options in :mod:`.options`)."""
