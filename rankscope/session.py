"""The session: everything one run loads once, and the one attach → train → detach → restore.

::

    cfg ──► Session(cfg)            model + tokenizer, space, prepared task, budget, harness
              │                     (the planted task's teacher, targets, floor and ceiling too)
              ├─ .train(allocation, hook)    attach in the allocation's form, train through the
              │                              harness, read the final allocation from the masks,
              │                              detach, restore the task head
              └─ .context(...)      the AllocationContext an allocator proposes from; the
                                    session itself is its ``trainer`` (:class:`~.allocators.Trainer`)

Identical before-training allocations at one lr are trained once per session (runs are
deterministic), so a uniform baseline that equals the allocator's proposal costs nothing. The
configuration must be validated before a session is built (:func:`rankscope.validate.validate`):
a session loads models.

>>> from rankscope.search_config import SearchConfig
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

from .allocation import Allocation
from .allocators.context import AllocationContext, WorkerLauncher
from .allocators.uniform import uniform_allocation
from .attach import attach
from .budget import Budget
from .harness.data import PreparedTask, padding_collate, tokenize_examples
from .harness.hooks import StepHook
from .harness.loop import Harness, seed_everything
from .harness.objectives import CausalLM, SequenceClassification
from .harness.outcome import DivergedError, TrainOutcome
from .models import head_modules, load_model
from .planted.cache import PlantedCache, baseline_key, task_key
from .registry import SPACES
from .search_config import SearchConfig
from .tasks import CAUSAL

log = logging.getLogger(__name__)


def _glue_like(cfg: SearchConfig, tokenizer):
    """(spec, train features, dev features) of a GLUE, plugin or custom task."""
    from .tasks import get_task_spec, load_custom_data, load_task_data

    if cfg.task == "custom":
        spec, train = load_custom_data(cfg.data_dir, "train", max_samples=cfg.max_train_samples, seed=cfg.seed)
        _, dev = load_custom_data(cfg.data_dir, "dev")
    else:
        spec = get_task_spec(cfg.task)
        train = load_task_data(cfg.task, "train", data_dir=cfg.data_dir, max_samples=cfg.max_train_samples,
                               seed=cfg.seed)
        dev = load_task_data(cfg.task, "dev", data_dir=cfg.data_dir)
    reg = spec.is_regression
    return spec, tokenize_examples(train, tokenizer, cfg.max_len, reg), tokenize_examples(dev, tokenizer, cfg.max_len, reg)


def _causal(cfg: SearchConfig, tokenizer) -> PreparedTask:
    """A decoder task: prompt/response, chat or text rows → features whose labels mark the target
    tokens (:mod:`rankscope.tasks.causal`); the truncation counts are logged."""
    from .tasks.causal import causal_collate, load_causal_rows, tokenize_causal

    data = {}
    for split in ("train", "dev"):
        rows = load_causal_rows(cfg.task, split, data_dir=cfg.data_dir, seed=cfg.seed)
        if split == "train" and cfg.max_train_samples and cfg.max_train_samples < len(rows):
            import numpy as np

            keep = np.sort(np.random.default_rng(cfg.seed).choice(len(rows), cfg.max_train_samples, replace=False))
            rows = [rows[i] for i in keep]
        data[split], stats = tokenize_causal(rows, tokenizer, cfg.max_len)
        if stats["prompt_trimmed"] or stats["response_trimmed"]:
            log.info("%s %s: %d of %d rows cut to --max-len %d (prompt trimmed %d, response trimmed %d)", cfg.task,
                     split, max(stats["prompt_trimmed"], stats["response_trimmed"]), stats["rows"], cfg.max_len,
                     stats["prompt_trimmed"], stats["response_trimmed"])
    return PreparedTask(cfg.task, data["train"], data["dev"], causal_collate(tokenizer), CausalLM())


class Session:
    """The loaded state of one run (``cfg`` must be resolved and validated)."""

    def __init__(self, cfg: SearchConfig, progress: bool = True):
        self.cfg, self.progress = cfg, progress
        seed_everything(cfg.seed)  # the task head's random init depends on it
        self.planted, self.cache, self.task_key = None, None, None
        self.test_scorer = None  # GSM8K: greedy decoding + exact match on test, after training
        self.causal = cfg.task in CAUSAL  # a decoder trained on next-token loss
        t0 = time.perf_counter()
        if cfg.task == "planted":
            from .planted import PlantedConfig, build_planted_task

            self.model, self.tokenizer = load_model(cfg.model, None, trust_remote_code=cfg.trust_remote_code)
            self.space = SPACES.get(cfg.space)(self.model, max_rank=cfg.max_rank)
            t1 = time.perf_counter()
            pcfg = PlantedConfig(**cfg.planted)
            self.cache = PlantedCache()
            if self.cache.enabled:
                self.task_key = task_key(cfg.model, self.model, self.space, cfg.seed, pcfg.to_dict())
                hit = self.cache.get_tensors(self.task_key) is not None
                log.info("planted task cache %s: %s", "hit" if hit else "miss (computing the teacher once)",
                         self.cache.root / self.task_key)
            self.planted = build_planted_task(self.model, self.tokenizer, self.space, pcfg, cfg.seed,
                                              padding_collate(self.tokenizer), self.cache, self.task_key)
            self.task = self.planted.prepared
        elif self.causal:
            self.model, self.tokenizer = load_model(cfg.model, causal_lm=True, trust_remote_code=cfg.trust_remote_code)
            self.space = SPACES.get(cfg.space)(self.model, max_rank=cfg.max_rank)
            t1 = time.perf_counter()
            self.task = _causal(cfg, self.tokenizer)
            if cfg.task == "gsm8k" and cfg.exact_match:
                from .tasks.gsm8k_eval import GSM8KExactMatch

                self.test_scorer = GSM8KExactMatch(self.tokenizer, cfg.exact_match, data_dir=cfg.data_dir,
                                                   max_len=cfg.max_len, max_new_tokens=cfg.max_new_tokens,
                                                   batch_size=cfg.eval_batch_size * 2, device=cfg.device)
        else:
            from .tasks import get_task_spec

            # the data's label count before the model: a missing --data-dir costs no model load
            num_labels = get_task_spec(cfg.task, data_dir=cfg.data_dir).num_labels
            self.model, self.tokenizer = load_model(cfg.model, num_labels, trust_remote_code=cfg.trust_remote_code)
            self.space = SPACES.get(cfg.space)(self.model, max_rank=cfg.max_rank)
            t1 = time.perf_counter()
            spec, train, dev = _glue_like(cfg, self.tokenizer)
            self.task = PreparedTask(spec.name, train, dev, padding_collate(self.tokenizer),
                                     SequenceClassification(spec))
        self.task = self.task.with_dev_subset(cfg.max_dev_samples)
        spec = cfg.budget or ("planted" if self.planted else "r2")
        self.budget = (Budget(self.planted.planted.params, "planted") if spec == "planted" and self.planted
                       else Budget.parse(spec, self.space))
        self.harness = Harness(self.task, cfg)
        self._cache: dict[tuple, TrainOutcome] = {}
        # where a run's time goes before any training: model + space, then the task's data
        self.timing = {"load_s": t1 - t0, "task_s": time.perf_counter() - t1}

    # ------------------------------------------------------------------ the Trainer protocol
    @property
    def total_steps(self) -> int:
        return self.harness.total_steps()

    @property
    def steps_per_epoch(self) -> int:
        return self.harness.steps_per_epoch

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
        there (:mod:`rankscope.adapter_io`). ``score_test``: score the trained model on the task's
        test problems (GSM8K exact match, when ``--exact-match`` asks) before detaching; the
        metrics join ``final`` with a ``test_`` prefix. ``lr``: the peak learning rate, if not
        ``cfg.lr`` (baselines train at ``cfg.baseline_lr``). A diverged run raises
        :class:`~rankscope.harness.outcome.DivergedError` carrying the allocation it reached."""
        # a training without hook or report is a function of its allocation: train it once (saving
        # its adapters needs the live handle, so a cached outcome cannot serve a save)
        pure = hook is None and report is None
        score_test = score_test and self.test_scorer is not None
        lr = self.cfg.lr if lr is None else lr
        key = (allocation.to_json(), allocation.form, steps, eval_every, evaluate, score_test, lr) if pure else None
        if key in self._cache and save_to is None:
            return self._cache[key]
        handle = attach(self.model, self.space, allocation, seed=self.cfg.seed,
                        **self.cfg.attach_options(allocation.form))
        try:
            outcome = self.harness.train(self.model, handle, hook, total_steps=steps, eval_every=eval_every,
                                         evaluate=evaluate, report=report, desc=desc,
                                         progress=self.progress and progress, lr=lr)
            if score_test:
                outcome.final.update(self.test_scorer(self.model, progress=self.progress and progress))
                outcome.test_s = self.test_scorer.last["generate_s"]
            if save_to is not None:
                from .adapter_io import save_adapters

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
        ``None`` if it diverged. On the planted task its outcome is read from, or written to, the
        planted cache."""
        lr = self.cfg.baseline_lr
        settings = {**asdict(self.cfg), "lr": lr}  # the key holds the lr the baseline trains at
        key = baseline_key(self.task_key, settings, allocation) if self.task_key else None
        record = self.cache.get_json(key) if key else None
        if record is not None:
            return TrainOutcome(**record, allocation=allocation)
        try:
            outcome = self.train(allocation, desc=desc, score_test=True, lr=lr)
        except DivergedError:
            return None
        if key:
            self.cache.put_json(key, {k: v for k, v in asdict(outcome).items() if k != "allocation"})
        return outcome

    def scoring_batches(self, n: int, data: str = "sample", seed: int = 0) -> list:
        from .scoring import scoring_batches

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
