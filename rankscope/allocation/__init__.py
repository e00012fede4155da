"""What a budget buys: an :class:`~.allocation.Allocation` (``{edge: rank}``), a
:class:`~.budget.Budget` (trainable adapter parameters) and the one projection from real-valued
scores onto a feasible integer allocation (:mod:`.projection`)."""
