"""Zero-cost proxies (HeteroLoRA), one small file each, registered through the
``rankscope.proxies`` entry-point group and listed by ``rankscope ls proxies``."""
