"""Task kinds: the one place that knows how a kind of task is defaulted, checked, loaded and
baselined (``docs/architecture.md``, "Task kinds").

A run's task name (``mrpc``, ``custom``, ``gsm8k``, ``planted``, a plugin task …) belongs to
exactly one kind, and the search asks the kind, never the name::

    task_kind(cfg.task)            ──► TaskKind
      .defaults, .allocator_defaults    training defaults (SearchConfig.resolved)
      .resolve(settings)                defaults that depend on other settings
      .check(cfg)                       kind-specific validation, before any model loads
      .load_model(name, …)              the frozen base model as this kind trains it
      .prepare(cfg, model, tok, space)  ──► LoadedTask (data + objective, budget, test scorer)
      .baselines(loaded)                its own baselines ({name: allocation}: planted's oracle)
      .extras(loaded, final, outcome, baselines)   its entries of result.extras (gap_closed)

The three kinds are :class:`~rankscope.tasks.classification.kind.ClassificationKind` (GLUE,
custom and plugin tasks: a sequence classification or regression head),
:class:`~rankscope.tasks.causal.kind.CausalKind` (decoders on next-token loss) and
:class:`~rankscope.tasks.planted.kind.PlantedKind` (the offline ground truth). A new kind is a
folder under ``tasks/`` with a ``kind.py`` whose object joins :func:`rankscope.tasks.kinds`,
where :func:`~rankscope.tasks.task_kind` finds it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from rankscope.errors import InputError

if TYPE_CHECKING:
    from torch import nn

    from rankscope.allocation.allocation import Allocation
    from rankscope.allocation.budget import Budget
    from rankscope.harness.data import PreparedTask
    from rankscope.harness.outcome import TrainOutcome
    from rankscope.search.config import SearchConfig
    from rankscope.space.graph import SearchSpace


class BaselineStore(Protocol):
    """Where a kind keeps baseline trainings across runs (the planted task's disk cache):
    ``get(settings, allocation)`` → a TrainOutcome record or None, ``put(...)`` stores one."""

    def get(self, settings: dict, allocation) -> dict | None: ...

    def put(self, settings: dict, allocation, record: dict) -> None: ...


class TestScorer(Protocol):
    """Scores a trained model on the task's test problems after training: ``scorer(model,
    progress=...)`` → metrics (prefixed ``test_``), with the last call's cost in ``last``
    (``generate_s``). GSM8K's exact match is one
    (:class:`~rankscope.tasks.causal.exact_match.GSM8KExactMatch`)."""

    last: dict

    def __call__(self, model: nn.Module, progress: bool = False) -> dict[str, float]: ...


@dataclass
class LoadedTask:
    """What :meth:`TaskKind.prepare` hands the session.

    ``prepared``: train/dev features, the collate function and the objective. ``budget``: the
    kind's own budget when ``--budget`` is not given (``None``: ``r2``). ``test_scorer``: scores
    the trained model after training (GSM8K exact match), or ``None``. ``baseline_store``: where
    baseline trainings are cached across runs, or ``None``. ``state``: the kind's own loaded
    state (the planted teacher and plants), read by its :meth:`~TaskKind.baselines` and
    :meth:`~TaskKind.extras`."""

    prepared: PreparedTask
    budget: Budget | None = None
    test_scorer: TestScorer | None = None
    baseline_store: BaselineStore | None = None
    state: Any = None


class TaskKind:
    """The phase methods of a task kind; the defaults here suit a kind with none of its own."""

    name: str = ""
    #: training defaults of every task of the kind (``SearchConfig`` fields left at ``None``)
    defaults: dict = {}
    #: ``{allocator: {setting: value}}``: an allocator's own defaults on this kind
    allocator_defaults: dict = {}
    #: named presets (``--preset``) of this kind: ``{name: settings}``
    presets: dict = {}
    #: budget words besides the sizes (``--budget planted``)
    named_budgets: tuple = ()
    #: the tasks of this kind that read ``--dataset`` (a ``datasets.load_dataset`` source)
    dataset_tasks: tuple = ()
    #: whether the trained model keeps a classification/regression head (``result.num_labels``)
    has_label_head: bool = False
    #: whether every run trains the uniform baseline (else only with ``--baseline uniform``)
    always_uniform: bool = False

    def owns(self, task: str) -> bool:
        raise NotImplementedError

    def task_names(self) -> list[str]:
        """The task names of this kind, as ``rankscope ls tasks`` lists them."""
        raise NotImplementedError

    def resolve(self, settings: dict) -> None:
        """Fill defaults that depend on other settings (in place); called after the table."""

    def check(self, cfg: SearchConfig) -> None:
        """Kind-specific validation. The default refuses what belongs to other kinds: the
        ``[planted]`` table, presets and exact match."""
        refuse_preset(cfg)  # first: a preset fills [planted] options of its own
        refuse_planted_options(cfg)
        refuse_exact_match(cfg)

    def load_model(self, model: str, *, num_labels: int | None = None, trust_remote_code: bool = False,
                   dtype: str | None = None):
        """``(model, tokenizer)``: the frozen base as this kind trains it (also the base that
        ``rankscope export`` rebuilds from a run's ``result.json``), loaded directly in ``dtype``
        where the loader can, so a bfloat16 run never holds a float32 copy of the base."""
        from rankscope.models.loading import load_model

        return load_model(model, num_labels, trust_remote_code=trust_remote_code, dtype=dtype)

    def num_labels(self, cfg: SearchConfig) -> int | None:
        """The head's label count, read from the data before any model loads (``None``: no head)."""
        return None

    def prepare(self, cfg: SearchConfig, model, tokenizer, space: SearchSpace) -> LoadedTask:
        raise NotImplementedError

    def baselines(self, loaded: LoadedTask) -> dict[str, Allocation]:
        """The kind's own baseline allocations, trained beside uniform with the same schedule
        (the planted task's oracle); default none."""
        return {}

    def extras(self, loaded: LoadedTask, final: Allocation, outcome: TrainOutcome,
               baselines: dict[str, TrainOutcome | None]) -> dict:
        """The kind's entries of ``result.extras`` from the trained run and its baselines
        (``None``: that baseline diverged); default none."""
        return {}


def is_number(value, kind: type) -> bool:
    """A setting's value is an ``int`` (``kind`` int) or a finite ``int``/``float`` (``kind``
    float); ``True``/``False`` are neither (TOML and JSON give booleans as their own type)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) if kind is int else isinstance(value, (int, float)) and math.isfinite(value)


def refuse_planted_options(cfg: SearchConfig) -> None:
    if cfg.planted:
        raise InputError(f"[planted] options apply to --task planted only, not {cfg.task!r}")


def refuse_preset(cfg: SearchConfig) -> None:
    if cfg.preset:
        raise InputError(f"preset {cfg.preset!r} is a variant of the planted task, not of {cfg.task!r}")


def refuse_exact_match(cfg: SearchConfig) -> None:
    if cfg.exact_match:
        raise InputError(f"--exact-match {cfg.exact_match}: exact-match accuracy needs gold final answers, which "
                         f"--task gsm8k has and {cfg.task!r} does not; drop --exact-match or pass 0")
