"""The public allocator contract (rankscope.testing) for the reference allocator."""

from rankscope.testing import AllocatorContract


class TestUniformContract(AllocatorContract):
    allocator = "uniform"
