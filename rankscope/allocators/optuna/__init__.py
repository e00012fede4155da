"""The Optuna outer search's parts: where a study lives (:mod:`.storage`), how a trial's
suggestions become a feasible allocation (:mod:`.units`), which sampler and pruner drive it
(:mod:`.samplers`), how workers share it (:mod:`.trials`) and what the report shows
(:mod:`.records`); worker processes are started by :mod:`.launcher` and run :mod:`.worker`. The
allocator that ties them together is :mod:`rankscope.allocators.optuna.allocator`."""

from rankscope.allocators.optuna.objective import TrialObjective
from rankscope.allocators.optuna.records import study_record
from rankscope.allocators.optuna.samplers import (
           PRUNERS,
           SAMPLERS,
           make_pruner,
           make_sampler,
)
from rankscope.allocators.optuna.storage import (
           MARKER,
           StudyStorage,
           is_study_dir,
           open_storage,
           open_study,
)
from rankscope.allocators.optuna.trials import run_trials
from rankscope.allocators.optuna.units import DecisionUnits

__all__ = ["DecisionUnits", "MARKER", "TrialObjective", "PRUNERS", "SAMPLERS", "StudyStorage", "is_study_dir", "make_pruner",
           "make_sampler", "open_storage", "open_study", "run_trials", "study_record"]
