"""rankscope: decide where the LoRA budget of a fine-tuning run goes.

Public API (a tiny random BERT here; ``"minilm"``, ``"smollm2"``, a hub id or a path work the same):

>>> import tempfile, torch
>>> import rankscope as rs
>>> _ = torch.manual_seed(0)                              # tiny random models depend on the seed
>>> model, tokenizer = rs.load_model("tiny-bert", 2)
>>> space = rs.build_space("shortcuts", model)            # registered name or a SearchSpace
>>> alloc = rs.Allocation.uniform(space, rank=2)          # Allocation.from_json / .to_json
>>> budget = rs.Budget.parse("r2", space)                 # "250k", "1.2M", 300000, "rN"
>>> space.cost(alloc) == alloc.params <= budget.params
True
>>> handle = rs.attach(model, space, alloc, form="lora")  # or form="svd"; no copy of the model
>>> handle.trainable_parameters() == alloc.params
True
>>> out = tempfile.mkdtemp()
>>> _ = rs.save_adapters(handle, out)                     # safetensors, no pickle
>>> handle.detach()
>>> _ = torch.manual_seed(0)
>>> fresh, _ = rs.load_model("tiny-bert", 2)            # the same base model (checked on load)
>>> rs.load_adapters(fresh, out).allocation == alloc
True

``handle.compact()`` slices masked ranks away, ``handle.merge()`` folds module edges into their
weights (shortcuts stay), and ``rs.allocation_from_peft(dir_or_config, space)`` reads a PEFT
adapter's ranks. A whole search is :func:`rankscope.run.run_search`.
"""

from ._version import __version__
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
from .peft_import import allocation_from_peft
from .projection import project_to_budget
from .registry import SPACES, Registry, register_space
from .sitemap import Block, Family, SiteMap, register_family, site_map, supported_model_types
from .space import SearchSpace


def build_space(space, model, **options) -> SearchSpace:
    """A registered space name (built for ``model``), or a :class:`SearchSpace` to validate."""
    if isinstance(space, SearchSpace):
        return space.validate(model)
    return SPACES.get(space)(model, **options)


__all__ = [
    "AdapterHandle", "Allocation", "AllocationError", "Block", "Budget", "BudgetError", "Edge",
    "Family", "InputError", "LoRAAdapter", "LowRankAdapter", "MODELS", "RankscopeError",
    "Registry", "SPACES", "SVDAdapter", "SearchSpace", "SiteMap", "SpaceBuilder", "SpaceError",
    "TrainingError", "UnsupportedModelError", "allocation_from_peft", "attach", "build_space",
    "edge_cost", "export_peft", "load_adapters", "load_model", "parse_site",
    "project_to_budget", "rank_unit_cost", "register_family", "register_space", "save_adapters",
    "site", "site_map", "supported_model_types", "__version__",
]
