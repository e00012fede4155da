"""Every built-in proxy and both proxy allocators pass the public contracts.

The proxies are listed here by hand (:data:`PROXIES_UNDER_CONTRACT` and :class:`TestAlphaTest`);
:func:`test_the_builtin_proxies_are_all_covered` holds them against the ``rankscope.proxies``
entry points that ``pyproject.toml`` declares, so a new built-in proxy without a contract class
fails. (The proxy allocators' contracts count towards tests/allocators/test_contract_coverage.py.)"""

from conftest import assert_contracts_cover

from rankscope.scoring import PROXIES
from rankscope.testing import AllocatorContract, ProxyContract

PROXIES_UNDER_CONTRACT = ("grad_norm", "snip", "synflow", "synflow_canonical", "fisher", "grasp", "jacob_cov",
                          "constant", "spectral", "whitened")


def test_the_builtin_proxies_are_all_covered():
    assert_contracts_cover("rankscope.proxies", ProxyContract, "proxy", globals(), PROXIES)


# one ProxyContract subclass per built-in proxy (pytest collects the Test* names)
for _name in PROXIES_UNDER_CONTRACT:
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
