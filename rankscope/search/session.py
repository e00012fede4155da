"""The session: everything one run loads once, and the one attach → train → detach → restore.

::

    cfg ──► Session(cfg)            the task's kind loads model + tokenizer and prepares the task
              │                     (rankscope.tasks.kind); then space, budget, harness
              ├─ .train(allocation, hook)    attach in the allocation's form, train through the
              │                              harness, read the final allocation from the masks,
              │                              detach, restore the task head
              └─ .context(...)      the AllocationContext an allocator proposes from; the
                                    session itself is its ``trainer`` (:class:`~.allocators.Trainer`)

Identical before-training allocations at one lr are trained once per session (runs are
deterministic), so a uniform baseline that equals the allocator's proposal costs nothing. The
configuration must be validated before a session is built (:func:`rankscope.search.validate.validate`):
a session loads models.

>>> from rankscope.search.config import SearchConfig
>>> cfg = SearchConfig(model="tiny-bert", max_steps=2,
...                    planted={"n_train": 32, "n_dev": 16, "seq_len": 8, "n_plants": 2}).resolved()
>>> session = Session(cfg, progress=False)
>>> outcome = session.train(session.uniform())
>>> sorted(outcome.final)
['mse', 'r2']
>>> outcome.allocation.params == session.uniform().params
True
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from pathlib import Path

from rankscope.adapters.attach import attach
from rankscope.allocation.allocation import Allocation
from rankscope.allocation.budget import Budget
from rankscope.allocators.context import AllocationContext, WorkerLauncher
from rankscope.allocators.uniform import uniform_allocation
from rankscope.harness.hooks import StepHook
from rankscope.harness.loop import Harness, seed_everything
from rankscope.harness.outcome import DivergedError, TrainOutcome
from rankscope.models.loading import head_modules
from rankscope.models.memory import prepare_base
from rankscope.registry import SPACES
from rankscope.search.config import SearchConfig
from rankscope.tasks import task_kind

log = logging.getLogger(__name__)


class Session:
    """The loaded state of one run (``cfg`` must be resolved and validated)."""

    def __init__(self, cfg: SearchConfig, progress: bool = True):
        self.cfg, self.progress = cfg, progress
        seed_everything(cfg.seed)  # the task head's random init depends on it
        self.kind = task_kind(cfg.task)
        t0 = time.perf_counter()
        num_labels = self.kind.num_labels(cfg)  # from the data: a missing --data-dir costs no model load
        self.model, self.tokenizer = self.kind.load_model(cfg.model, num_labels=num_labels,
                                                          trust_remote_code=cfg.trust_remote_code, dtype=cfg.dtype)
        # --dtype and --gradient-checkpointing (rankscope.models.memory): the kind loads the base in
        # --dtype where its loader can; cast the rest here (a no-op for what loaded in it), before
        # the space is traced and the task prepared on it
        prepare_base(self.model, cfg.dtype, cfg.gradient_checkpointing)
        self.space = SPACES.get(cfg.space)(self.model, max_rank=cfg.max_rank)
        t1 = time.perf_counter()
        loaded = self.kind.prepare(cfg, self.model, self.tokenizer, self.space)
        self.task = loaded.prepared.with_dev_subset(cfg.max_dev_samples)
        self.loaded = loaded  # the kind's budget, test scorer (GSM8K exact match), baseline store, state
        # an rN budget counts uniform rank N over --budget-space's edges, where given (equal
        # parameters for runs in different spaces), else over this space's
        counted = (SPACES.get(cfg.budget_space)(self.model, max_rank=cfg.max_rank)
                   if cfg.budget_space not in (None, cfg.space) else self.space)
        self.budget = (loaded.budget if cfg.budget in (None, *self.kind.named_budgets) and loaded.budget
                       else Budget.parse(cfg.budget or "r2", counted))
        self.harness = Harness(self.task, cfg)
        # the Trainer protocol's numbers, fixed for the session (allocators read them often)
        self.total_steps: int = self.harness.total_steps()
        self.steps_per_epoch: int = self.harness.steps_per_epoch
        self.attach_options = {form: cfg.attach_options(form) for form in ("lora", "svd")}
        self._cache: dict[tuple, TrainOutcome] = {}
        # where a run's time goes before any training: model + space, then the task's data
        self.timing = {"load_s": t1 - t0, "task_s": time.perf_counter() - t1}

    @property
    def planted(self):
        """The planted task's teacher and plants (:class:`~rankscope.tasks.planted.task.PlantedTask`,
        the planted kind's loaded state); ``None`` for other kinds, which keep no state."""
        return self.loaded.state

    # ------------------------------------------------------------------ the Trainer protocol
    @property
    def batch_size(self) -> int:
        return self.cfg.batch_size

    @property
    def device(self) -> str:
        return self.cfg.device

    @property
    def objective(self):
        return self.task.objective

    @property
    def train_size(self) -> int:
        return len(self.task.train)

    def train(self, allocation: Allocation, hook: StepHook | None = None, *, steps: int | None = None,
              eval_every: int | None = None, evaluate: bool = True, report=None, desc: str = "train",
              progress: bool = True, save_to: Path | None = None, score_test: bool = False,
              lr: float | None = None) -> TrainOutcome:
        """Attach ``allocation`` in its form, train, read the final allocation from the masks,
        detach and put the task head back. ``save_to``: also save the trained adapters and head
        there (:mod:`rankscope.checkpoints.native`). ``score_test``: score the trained model on the task's
        test problems (GSM8K exact match, when ``--exact-match`` asks) before detaching; the
        metrics join ``final`` with a ``test_`` prefix. ``lr``: the peak learning rate, if not
        ``cfg.lr`` (baselines train at ``cfg.baseline_lr``). A diverged run raises
        :class:`~rankscope.harness.outcome.DivergedError` carrying the allocation it reached."""
        # a training without hook or report is a function of its allocation: train it once (saving
        # its adapters needs the live handle, so a cached outcome cannot serve a save)
        pure = hook is None and report is None
        score_test = score_test and self.loaded.test_scorer is not None
        lr = self.cfg.lr if lr is None else lr
        key = (allocation.to_json(), allocation.form, steps, eval_every, evaluate, score_test, lr) if pure else None
        if key in self._cache and save_to is None:
            return self._cache[key]
        handle = attach(self.model, self.space, allocation, seed=self.cfg.seed,
                        **self.attach_options[allocation.form])
        try:
            outcome = self.harness.train(self.model, handle, hook, total_steps=steps, eval_every=eval_every,
                                         evaluate=evaluate, report=report, desc=desc,
                                         progress=self.progress and progress, lr=lr)
            if score_test:
                with handle.folded():  # decoding token by token: LoRA edges in the weights' matmuls
                    outcome.final.update(self.loaded.test_scorer(self.model, progress=self.progress and progress))
                outcome.test_s = self.loaded.test_scorer.last["generate_s"]
            if save_to is not None:
                from rankscope.checkpoints.native import save_adapters

                save_adapters(handle, save_to)
        except DivergedError as exc:
            exc.allocation = handle.allocation
            raise
        finally:
            handle.detach()
            self.harness.restore_head(self.model)  # the next proposal scores the model as it was
        if key is not None:
            self._cache[key] = outcome
        return outcome

    def baseline(self, allocation: Allocation, desc: str) -> TrainOutcome | None:
        """A baseline training (the uniform floor, the oracle ceiling) at ``cfg.baseline_lr``,
        ``None`` if it diverged. Where the task kind keeps a baseline store (the planted task's
        disk cache), the outcome is read from, or written to, it."""
        lr = self.cfg.baseline_lr
        settings = {**asdict(self.cfg), "lr": lr}  # the key holds the lr the baseline trains at
        store = self.loaded.baseline_store
        record = store.get(settings, allocation) if store else None
        if record is not None:
            return TrainOutcome(**record, allocation=allocation)
        try:
            outcome = self.train(allocation, desc=desc, score_test=True, lr=lr)
        except DivergedError:
            return None
        if store:
            store.put(settings, allocation, {k: v for k, v in asdict(outcome).items() if k != "allocation"})
        return outcome

    def scoring_batches(self, n: int, data: str = "sample", seed: int = 0) -> list:
        from rankscope.scoring import scoring_batches

        return scoring_batches(self.task, n, self.cfg.batch_size, data=data, seed=seed)

    def restore_head(self) -> None:
        self.harness.restore_head(self.model)

    # ------------------------------------------------------------------ for the run
    def context(self, workdir: Path | None = None, launcher: WorkerLauncher | None = None) -> AllocationContext:
        return AllocationContext(self.space, self.budget, self.model, self, seed=self.cfg.seed, workdir=workdir,
                                 launcher=launcher, run_key={"task": self.cfg.task, "model": self.cfg.model},
                                 progress=self.progress)

    def uniform(self, form: str = "lora") -> Allocation:
        """Uniform LoRA at the session's budget: the baseline every report compares against."""
        return uniform_allocation(self.space, self.budget, form)

    @property
    def head_params(self) -> int:
        """Task-head parameters (outside the adapter budget): the planted bias, or the model's head."""
        return self.task.head_params or sum(p.numel() for m in head_modules(self.model).values()
                                            for p in m.parameters())
