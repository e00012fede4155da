"""Low-rank adapter modules in two forms behind one interface (see :mod:`.base`)."""

from rankscope.adapters.base import LowRankAdapter
from rankscope.adapters.lora import LoRAAdapter
from rankscope.adapters.svd import SVDAdapter

ADAPTER_FORMS = {"lora": LoRAAdapter, "svd": SVDAdapter}

__all__ = ["LowRankAdapter", "LoRAAdapter", "SVDAdapter", "ADAPTER_FORMS"]
