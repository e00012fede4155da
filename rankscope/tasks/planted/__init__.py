"""The planted-structure task (``--task planted``): a ground truth for allocators.

1. A **teacher** is the base model plus planted low-rank updates on a seed-chosen subset of the
   space's edges — shortcuts included, which module LoRA cannot express — with ranks from
   ``PlantedConfig.ranks`` (default {32}; the first design's {2, 4, 8} is ``ranks = [2, 4, 8]``),
   along the whitened principal directions of each edge's input, each scaled so its output
   moves by ``scale`` × the RMS of the target site.
2. Inputs are token sequences sampled from the tokenizer's vocabulary.
3. Targets are the teacher's *changes* in the hidden states of every block, per token
   (``targets="tokens"``, the default) or mean-pooled over tokens (``"pooled"``, the first design's
   first form), under fixed random projections (``proj_dim`` per block), scaled by the base
   features' spread. Predicting the change (not the raw features, which the base model already
   gets 97 % right) gives ``r2`` a range from 0 (no adapter) to 1. Pooled targets vary across
   examples in only ~10 directions, so rank-1 edges everywhere reproduce them about as well as
   the planted ranks do (docs/results/planted.md, "Calibration"); per-token targets keep each
   plant's full rank visible.
4. The student is the base model plus the allocator's adapters, with a budget equal to the
   planted parameter count; **uniform** (floor) and **oracle** (the planted allocation, ceiling)
   are trained with the same schedule.

Metrics: ``r2`` (dev), ``gap_closed = (r2 − r2_uniform)/(r2_oracle − r2_uniform)``,
``planted_recall`` (share of allocated parameters on planted edges) and ``rank_spearman``
(allocated vs planted ranks). ``calibration_ratio = (1 − r2_oracle)/(1 − r2_uniform)``.
"""

from rankscope.tasks.planted.metrics import planted_metrics
from rankscope.tasks.planted.task import PlantedConfig, PlantedTask, build_planted_task

__all__ = ["PlantedConfig", "PlantedTask", "build_planted_task", "planted_metrics"]
