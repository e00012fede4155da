"""The display layer: the :class:`~.tables.Table` value and its plain-text layout, the paired
comparison table (:mod:`.paired`) and the one plotly style (:mod:`.plots`). It imports nothing
above the ground floor, so the space, the allocators and the report can all use it."""
