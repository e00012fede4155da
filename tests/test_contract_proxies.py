"""Every built-in proxy and both proxy allocators pass the public contracts."""

from rankscope.scoring import PROXIES
from rankscope.testing import AllocatorContract, ProxyContract


def test_every_builtin_proxy_is_registered():
    assert set(PROXIES.names()) >= {"grad_norm", "snip", "synflow", "synflow_canonical", "fisher", "grasp",
                                    "jacob_cov", "constant", "alpha_test", "spectral", "whitened"}


# one ProxyContract subclass per built-in proxy (pytest collects the Test* names)
for _name in ["grad_norm", "snip", "synflow", "synflow_canonical", "fisher", "grasp", "jacob_cov",
              "constant", "spectral", "whitened"]:
    globals()[f"TestProxy_{_name}"] = type(f"TestProxy_{_name}", (ProxyContract,), {"proxy": _name})


class TestAlphaTest(ProxyContract):
    proxy = "alpha_test"
    nonzero_at_init = False  # a tiny random model's accuracy rarely moves when an edge is scaled


class TestProxyStaticContract(AllocatorContract):
    allocator = "proxy-static"
    options = {"proxy": "spectral", "n_batches": 2}


class TestProxyStaticWhitenedContract(AllocatorContract):
    allocator = "proxy-static"
    options = {"proxy": "whitened", "n_batches": 2}


class TestProxyStaticEdgeContract(AllocatorContract):
    allocator = "proxy-static"
    options = {"proxy": "grad_norm", "n_batches": 2, "mode": "separated", "normalize": "type"}


class TestProxyDynamicContract(AllocatorContract):
    allocator = "proxy-dynamic"
    options = {"proxy": "grad_norm", "n_batches": 2}
