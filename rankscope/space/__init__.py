"""The search space: sites and edges (:mod:`.edge`), the one cost function (:mod:`.cost`), the
graph (:mod:`.graph`), custom spaces in Python (:mod:`.builder`), where each model family keeps
its projections (:mod:`.sitemap`) and the forward-pass order of sites (:mod:`.trace`).

The first noun of the data flow: ``model ──► SearchSpace``; everything downstream reads edges
from it (``docs/architecture.md``, "The data flow")."""
