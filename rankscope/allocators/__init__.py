"""Allocators: the contract (:mod:`.base`, :mod:`.context`) and the reference ``uniform``."""

from rankscope.allocators.base import ALLOCATORS, Allocator
from rankscope.allocators.context import (
           AllocationContext,
           Plan,
           Trainer,
           WorkerLauncher,
)
from rankscope.allocators.uniform import UniformAllocator, uniform_allocation

__all__ = ["ALLOCATORS", "AllocationContext", "Allocator", "Plan", "Trainer", "UniformAllocator",
           "WorkerLauncher", "uniform_allocation"]
