"""Import a PEFT config as an allocation over a space: a starting point, or a baseline to report.

For every module edge of the space (an edge whose source and target are one module's input and
output), PEFT's own rules decide its rank:

    targeted   ``target_modules`` as a string: ``re.fullmatch``; as a list: the name equals an
               entry or ends with ``"." + entry``
    rank       the first ``rank_pattern`` key with ``re.match(r"(.*\\.)?(KEY)$", name)``, else ``r``;
               AdaLoRA's ``rank_pattern`` holds a boolean mask per module: the rank is its count

Shortcut edges have no PEFT counterpart and get rank 0. A targeted module whose rank exceeds the
edge's ``max_rank`` is an error (build the space with a larger ``max_rank``); a config that
targets no edge of the space is an error naming what it targets. A saved adapter directory
(``adapter_config.json``), a ``LoraConfig`` or an ``AdaLoraConfig`` all work:

>>> import peft, rankscope as rs
>>> model, _ = rs.load_model("tiny-bert", 2)
>>> space = rs.build_space("lora", model)
>>> config = peft.LoraConfig(r=4, target_modules=["query", "value"], rank_pattern={"value": 8})
>>> alloc = rs.allocation_from_peft(config, space)
>>> sorted({(space.edge(e).type, r) for e, r in alloc.active.items()})
[('query', 4), ('value', 8)]
"""

from __future__ import annotations

import re
from pathlib import Path

from rankscope.allocation.allocation import Allocation
from rankscope.errors import AllocationError, InputError
from rankscope.space.edge import parse_site


def _load_config(source):
    if isinstance(source, (str, Path)):
        from peft import PeftConfig

        path = Path(source)
        if not (path / "adapter_config.json").is_file():
            raise InputError(f"{source} is not a PEFT adapter directory (no adapter_config.json)")
        return PeftConfig.from_pretrained(str(path))
    return source


def _targeted(name: str, targets) -> bool:
    if targets is None:
        return False
    if isinstance(targets, str):
        return re.fullmatch(targets, name) is not None
    return any(name == t or name.endswith("." + t) for t in targets)


def _rank(name: str, config) -> int:
    for key, value in (getattr(config, "rank_pattern", None) or {}).items():
        if re.match(rf"(.*\.)?({key})$", name):
            return int(sum(bool(v) for v in value)) if isinstance(value, (list, tuple)) else int(value)
    return int(config.init_r) if hasattr(config, "init_r") else int(config.r)  # AdaLoRA starts at init_r


def allocation_from_peft(source, space) -> Allocation:
    """``source``: a ``LoraConfig``/``AdaLoraConfig`` or a PEFT adapter directory."""
    config = _load_config(source)
    targets = getattr(config, "target_modules", None)
    ranks, too_big = {}, []
    for e in space.edges:
        path = e.module
        if path is None or not _targeted(path, targets):
            continue
        r = _rank(path, config)
        if r > e.max_rank:
            too_big.append(f"{path}: r={r} > max_rank {e.max_rank}")
        ranks[e.id] = r
    if too_big:
        raise AllocationError("the PEFT config gives ranks the space cannot hold: " + "; ".join(too_big[:3])
                              + "; build the space with a larger max_rank")
    if not ranks:
        raise InputError(f"the PEFT config targets {targets!r}, which matches no module edge of space "
                         f"{space.name!r} (its modules look like {parse_site(space.edges[0].src)[0]!r})")
    return Allocation(space, ranks, "lora")
