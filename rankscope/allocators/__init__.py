"""Allocators: the contract (:mod:`.base`) and the reference ``uniform`` implementation."""

from .base import ALLOCATORS, AllocationContext, Allocator
from .uniform import UniformAllocator, uniform_allocation

__all__ = ["ALLOCATORS", "AllocationContext", "Allocator", "UniformAllocator", "uniform_allocation"]
