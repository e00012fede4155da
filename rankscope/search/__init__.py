"""One search, as a straight line: the configuration (:mod:`.config`), its validation
(:mod:`.validate`), the loaded session (:mod:`.session`), the run (:mod:`.pipeline`), its
:class:`~.result.SearchResult`, the run directory (:mod:`.rundir`), paired comparison of runs
(:mod:`.compare`) and an outer search's extra worker process (:mod:`.worker`)."""
