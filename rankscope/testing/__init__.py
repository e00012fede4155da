"""Public contract tests every allocator, proxy and search space must pass (modelled on
optuna.testing): :class:`AllocatorContract` (:mod:`.allocators`), :class:`ProxyContract`
(:mod:`.proxies`) and :class:`SpaceContract` (:mod:`.spaces`).

Use them in a plugin's test suite by subclassing::

    from rankscope.testing import AllocatorContract

    class TestMyAllocator(AllocatorContract):
        allocator = "my-allocator"          # a registered name
        options = {"some_option": 1}        # constructor options, if any

The allocator checks run real (tiny) searches — a 2-layer random BERT on the planted task, CPU,
the allocator run twice, each time in a fresh session — and assert that:

* the final allocation respects the budget (``params <= budget``, counted by the one cost
  function, and equal to the trainable parameters the adapters had);
* two runs with the same seed give the same allocation and the same metrics;
* the allocation JSON round-trips (``Allocation.from_json(a.to_json(), space) == a``);
* the result carries metrics (final and best primary metric) and timing.
"""

from rankscope.testing.allocators import (
           SMALL_RUN,
           AllocatorContract,
           run_small,
           small_config,
)
from rankscope.testing.proxies import ProxyContract, score_tiny
from rankscope.testing.spaces import SpaceContract

__all__ = ["SMALL_RUN", "AllocatorContract", "ProxyContract", "SpaceContract", "run_small", "score_tiny",
           "small_config"]
