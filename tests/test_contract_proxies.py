"""Every built-in proxy and both proxy allocators pass the public contracts."""

import pytest

from rankscope.scoring import PROXIES
from rankscope.testing import AllocatorContract, ProxyContract


def test_every_builtin_proxy_is_registered():
    assert set(PROXIES.names()) >= {"grad_norm", "snip", "synflow", "synflow_canonical", "fisher", "grasp",
                                    "jacob_cov", "constant", "alpha_test", "spectral"}


class TestGradNorm(ProxyContract):
    proxy = "grad_norm"


class TestSnip(ProxyContract):
    proxy = "snip"


class TestSynFlow(ProxyContract):
    proxy = "synflow"


class TestCanonicalSynFlow(ProxyContract):
    proxy = "synflow_canonical"


class TestFisher(ProxyContract):
    proxy = "fisher"


class TestGraSP(ProxyContract):
    proxy = "grasp"


class TestJacobCov(ProxyContract):
    proxy = "jacob_cov"


class TestConstant(ProxyContract):
    proxy = "constant"


class TestAlphaTest(ProxyContract):
    proxy = "alpha_test"
    nonzero_at_init = False  # a tiny random model's accuracy rarely moves when an edge is scaled


class TestSpectral(ProxyContract):
    proxy = "spectral"


class TestProxyStaticContract(AllocatorContract):
    allocator = "proxy-static"
    options = {"proxy": "spectral", "n_batches": 2}


class TestProxyStaticEdgeContract(AllocatorContract):
    allocator = "proxy-static"
    options = {"proxy": "grad_norm", "n_batches": 2, "mode": "separated", "normalize": "type"}


class TestProxyDynamicContract(AllocatorContract):
    allocator = "proxy-dynamic"
    options = {"proxy": "grad_norm", "n_batches": 2}
