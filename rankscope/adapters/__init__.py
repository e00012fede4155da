"""Low-rank adapter modules in two forms behind one interface (see :mod:`.base`)."""

from .base import LowRankAdapter
from .lora import LoRAAdapter
from .svd import SVDAdapter

ADAPTER_FORMS = {"lora": LoRAAdapter, "svd": SVDAdapter}

__all__ = ["LowRankAdapter", "LoRAAdapter", "SVDAdapter", "ADAPTER_FORMS"]
