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
adapter's ranks, and ``rs.planned_lora_config(alloc, model)`` is the PEFT ``LoraConfig`` that
trains an allocation in PEFT, TRL or axolotl (:mod:`rankscope.checkpoints.peft_config`). A whole
search is :func:`rankscope.search.pipeline.run_search`; a whole plan (allocate, train nothing) is
:func:`rankscope.search.planning.make_plan`.

Bigger bases: ``rs.load_model(name, dtype="bfloat16")`` loads the frozen base in bfloat16 (the
task head stays float32, adapters attach in float32), and ``rs.prepare_base(model, dtype,
gradient_checkpointing=True)`` casts an already loaded model and turns on gradient
checkpointing (:mod:`rankscope.models.memory`); ``SearchConfig(dtype=..., gradient_checkpointing=...)``
does both for a search.
"""

from rankscope._version import __version__
from rankscope.adapters import LoRAAdapter, LowRankAdapter, SVDAdapter
from rankscope.adapters.attach import AdapterHandle, attach
from rankscope.allocation.allocation import Allocation
from rankscope.allocation.budget import Budget
from rankscope.allocation.projection import project_to_budget
from rankscope.checkpoints.native import load_adapters, save_adapters
from rankscope.checkpoints.peft_config import planned_lora_config
from rankscope.checkpoints.peft_export import export_peft
from rankscope.checkpoints.peft_import import allocation_from_peft
from rankscope.errors import (
    AllocationError,
    BudgetError,
    InputError,
    RankscopeError,
    SpaceError,
    TrainingError,
    UnsupportedModelError,
)
from rankscope.models.loading import MODELS, load_model
from rankscope.models.memory import prepare_base
from rankscope.registry import SPACES, Registry, register_space
from rankscope.space.builder import SpaceBuilder
from rankscope.space.cost import edge_cost, rank_unit_cost
from rankscope.space.edge import Edge, parse_site, site
from rankscope.space.graph import SearchSpace
from rankscope.space.sitemap import (
    Block,
    Family,
    SiteMap,
    register_family,
    site_map,
    supported_model_types,
)


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
    "edge_cost", "export_peft", "load_adapters", "load_model", "parse_site", "planned_lora_config", "prepare_base",
    "project_to_budget", "rank_unit_cost", "register_family", "register_space", "save_adapters",
    "site", "site_map", "supported_model_types", "__version__",
]
