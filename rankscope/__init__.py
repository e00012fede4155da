"""rankscope: decide where the LoRA budget of a fine-tuning run goes.

Public API::

    import rankscope as rs
    model, tokenizer = rs.load_model("minilm")              # or "smollm2", a hub id, a path
    space = rs.build_space("shortcuts", model)              # registered name or a SearchSpace
    alloc = rs.Allocation.uniform(space, rank=2)            # Allocation.from_json / .to_json
    budget = rs.Budget.parse("r2", space)                   # "250k", "1.2M", 300000, "rN"
    assert space.cost(alloc) == alloc.params <= budget.params
    handle = rs.attach(model, space, alloc, form="lora")    # or form="svd"
    handle.trainable_parameters(); handle.compact(); handle.detach()
    handle.save("adapters/"); rs.load_adapters(fresh_model, "adapters/")   # safetensors, no pickle
    handle.merge()                                          # module edges into W; shortcuts stay
"""

from .adapter_io import load_adapters, save_adapters
from .adapters import LoRAAdapter, LowRankAdapter, SVDAdapter
from .allocation import Allocation
from .attach import AdapterHandle, attach
from .budget import Budget
from .builder import SpaceBuilder
from .cost import edge_cost, rank_unit_cost
from .edge import Edge, parse_site, site
from .export import export_peft
from .errors import (AllocationError, BudgetError, InputError, RankscopeError, SpaceError,
                     TrainingError, UnsupportedModelError)
from .models import MODELS, load_model
from .projection import project_to_budget
from .registry import SPACES, Registry, register_space
from .sitemap import Block, Family, SiteMap, register_family, site_map, supported_model_types
from .space import SearchSpace

__version__ = "0.1.0"


def build_space(space, model, **options) -> SearchSpace:
    """A registered space name (built for ``model``), or a :class:`SearchSpace` to validate."""
    if isinstance(space, SearchSpace):
        return space.validate(model)
    return SPACES.get(space)(model, **options)


__all__ = [
    "AdapterHandle", "Allocation", "AllocationError", "Block", "Budget", "BudgetError", "Edge",
    "Family", "InputError", "LoRAAdapter", "LowRankAdapter", "MODELS", "RankscopeError",
    "Registry", "SPACES", "SVDAdapter", "SearchSpace", "SiteMap", "SpaceBuilder", "SpaceError",
    "TrainingError", "UnsupportedModelError", "attach", "build_space", "edge_cost", "export_peft", "load_adapters", "load_model",
    "parse_site", "project_to_budget", "rank_unit_cost", "register_family", "register_space", "save_adapters",
    "site", "site_map", "supported_model_types", "__version__",
]
