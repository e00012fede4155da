"""Allocators: the contract (:mod:`.base`, :mod:`.context`) and the reference ``uniform``."""

from .base import ALLOCATORS, Allocator
from .context import AllocationContext, Plan, Trainer, WorkerLauncher
from .uniform import UniformAllocator, uniform_allocation

__all__ = ["ALLOCATORS", "AllocationContext", "Allocator", "Plan", "Trainer", "UniformAllocator",
           "WorkerLauncher", "uniform_allocation"]
