"""Run rankscope's in-training allocators inside your own ``transformers.Trainer`` script.

    cb = RankscopeCallback("salient", "shortcuts", "r2")
    model = cb.prepare(model, total_steps=trainer_max_steps)   # before Trainer(...): attaches the supernet
    trainer = Trainer(model=model, args=args, ..., callbacks=[cb])
    trainer.train()                                            # pruning happens inside
    cb.allocation, cb.describe()                               # the final ranks, the decisions
    rs.save_adapters(cb.handle, DIR)

When each part fires, mapped onto the harness's hook protocol (:mod:`rankscope.harness.hooks`):

==========================  =======================================================================
Trainer event               what the callback does
==========================  =======================================================================
``prepare`` (yours)         builds the space, parses the budget, asks the allocator for its plan
                            (through :class:`CallbackTrainer`, the same trainer protocol as
                            ``rankscope search``) and attaches its supernet (so the Trainer's
                            optimizer includes it); SVD forms get the orthogonality term added to
                            the model's ``loss`` output
``on_train_begin``          checks the Trainer runs exactly ``total_steps`` optimizer steps, starts
                            the plan's step hook
``on_optimizer_step``       once per OPTIMIZER step (never per micro-batch): after
                            ``optimizer.step()``, before ``zero_grad``, so gradients are still there
``on_train_end``            fails loudly (:class:`~rankscope.errors.TrainingError`) if training ended
                            before the allocation finished, instead of PEFT AdaLoRA's silent no-op
==========================  =======================================================================

Differences from ``rankscope search``: the Trainer owns the optimizer, so adapters are not
compacted during training (``compact`` is turned off; ``rs.save_adapters`` slices masked ranks
away at the end), and the learning-rate scheduler steps after the hook rather than before it.
``proxy-dynamic`` scores on K batches of the training set you pass to ``prepare`` (with your
collator); it runs in one process. Under ``torchrun`` / ``accelerate launch`` (the Trainer's DDP)
every decision is made on rank 0 and broadcast (:mod:`rankscope.distributed`), so all replicas
keep the same masks; DeepSpeed ZeRO-2/3 and FSDP, which shard the gradients, are refused.
**The scoring loss** (``RankscopeCallback.objective``) is picked from the model in ``prepare``,
so the proxies score what the Trainer minimises:

* a causal LM (``AutoModelForCausalLM``: ``*ForCausalLM``, ``GPT2LMHeadModel``, …) whose batches
  carry ``labels`` aligned with ``input_ids``, ``-100`` on prompt and padding tokens (as
  :func:`~rankscope.tasks.causal.features.tokenize_causal` + ``causal_collate`` build them):
  :class:`~rankscope.harness.objectives.CausalLM`, the mean next-token NLL over the target tokens,
  as ``rankscope search --task gsm8k`` scores. Its metrics (NLL, perplexity) make ``alpha_test``
  usable. There is no task head: ``lm_head`` stays frozen and only the adapters train;
* anything else (a sequence-classification head, a custom model): the model's own ``loss``,
  without task metrics; the classifier head (``classifier``/``score``) trains with the adapters.

``objective=`` overrides the choice: any object with ``forward(model, batch) -> (loss, preds,
targets)``, ``metrics(preds, targets)``, ``primary`` and ``greater_is_better``.

**Bigger bases** (:mod:`rankscope.models.memory`). On a base you loaded in bfloat16, the adapters
are float32 and ``prepare`` makes a half-precision task head float32, so the Trainer updates
float32 only. ``prepare(..., gradient_checkpointing=True)`` or ``TrainingArguments(
gradient_checkpointing=True)`` with ``use_reentrant`` False (transformers 5's default) checkpoint
the blocks; the reentrant form gives adapters no gradient and is refused at ``on_train_begin``.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace

import torch
from transformers import TrainerCallback

from rankscope import distributed
from rankscope.adapters.attach import attach
from rankscope.adapters.lora import DEFAULT_SCALING
from rankscope.allocation.budget import Budget
from rankscope.allocators import ALLOCATORS, AllocationContext, Allocator
from rankscope.errors import InputError, TrainingError
from rankscope.harness.hooks import TrainState
from rankscope.harness.objectives import CausalLM
from rankscope.models.loading import head_modules
from rankscope.models.memory import enable_checkpointing, keep_head_float32, reentrant_checkpointing

log = logging.getLogger(__name__)
SUPPORTED = ("salient", "adalora", "proxy-dynamic")


class _CausalLoss(CausalLM):
    """:class:`CausalLM` with a clear error for a scoring batch without ``labels`` (a Trainer's
    data may lack them; the search harness always has them)."""

    def forward(self, model, batch):
        if "labels" not in batch:
            raise InputError("a causal-LM scoring batch needs labels (the input ids, -100 where no loss "
                             "is taken): tokenize with rankscope.tasks.causal.features.tokenize_causal, or use "
                             "DataCollatorForLanguageModeling(tokenizer, mlm=False)")
        return super().forward(model, batch)


def scoring_objective(model):
    """The loss proxies score ``model`` with (see the module docstring): the causal-LM objective
    for a causal LM, else the model's own ``loss``."""
    from rankscope.checkpoints.peft_export import is_causal_lm

    causal = is_causal_lm(model) or type(model).__name__.endswith("ForCausalLM")  # remote-code models
    return _CausalLoss() if causal else _ModelLoss()


class _ModelLoss:
    """The Trainer's objective: the model's own ``loss`` output (what ``Trainer`` minimises).
    ``proxy-dynamic`` scores edges with it; there are no task metrics here (ALPHA-TEST needs them)."""

    primary, greater_is_better = "loss", False

    def forward(self, model, batch):
        out = model(**batch)
        if getattr(out, "loss", None) is None:
            raise InputError("the model returned no loss for a scoring batch: the training data must carry labels")
        logits = getattr(out, "logits", None)
        return out.loss, (logits.detach() if logits is not None else out.loss.detach()), batch.get("labels")

    def metrics(self, preds, targets):
        raise InputError("this proxy needs task metrics, which a Trainer callback does not have; "
                         "use a gradient proxy (grad_norm, snip, fisher, spectral, …) or `rankscope search`")


class _Rows:
    """The user's training rows reduced to what ``model.forward`` accepts (as the Trainer's
    ``remove_unused_columns``)."""

    def __init__(self, dataset, accepted):
        self.dataset, self.accepted = dataset, accepted

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, i):
        return {k: v for k, v in self.dataset[i].items() if k in self.accepted}


class CallbackTrainer:
    """The :class:`~rankscope.allocators.Trainer` protocol inside a ``transformers.Trainer`` run.

    The Trainer owns the training loop, so :meth:`train` refuses (an allocator that trains before
    it proposes, a warm-up or an outer search, cannot run here), and the head is the Trainer's to
    keep (:meth:`restore_head` does nothing). The run's length is what ``prepare`` was told;
    ``steps_per_epoch`` is known once the Trainer starts (the hook reads it from its state).
    Scoring batches are K seeded draws from the training set and collator given to ``prepare``,
    scored with ``objective`` (default :func:`scoring_objective`: causal NLL or the model's loss)."""

    def __init__(self, total_steps: int, model, dataset=None, collator=None, batch_size: int = 8,
                 objective=None):
        import inspect

        self._total, self._model, self._batch_size = total_steps, model, batch_size
        self.objective = objective if objective is not None else scoring_objective(model)
        self._rows = None
        if dataset is not None:
            accepted = set(inspect.signature(model.forward).parameters) | {"labels", "label", "label_ids"}
            self._rows, self._collate = _Rows(dataset, accepted), collator

    @property
    def total_steps(self) -> int:
        return self._total

    @property
    def steps_per_epoch(self) -> int:
        return self._total  # a lower bound until the Trainer starts; hooks read state.steps_per_epoch

    @property
    def batch_size(self) -> int:
        return self._batch_size

    @property
    def device(self) -> str:
        return str(next(self._model.parameters()).device)

    @property
    def train_size(self) -> int:
        return len(self._rows) if self._rows is not None else 0

    def train(self, allocation, hook=None, **kw):
        raise InputError("inside a Trainer callback the Trainer trains: allocators that train before they "
                         "propose (a proxy warm-up, an outer search) need `rankscope search`")

    def scoring_batches(self, n: int, data: str = "sample", seed: int = 0) -> list:
        from rankscope.scoring import scoring_batches

        if self._rows is None:
            raise InputError("proxy-dynamic scores the edges on batches of your training data: call "
                             "prepare(model, total_steps, train_dataset=..., data_collator=...)")
        rows = SimpleNamespace(train=self._rows, collate=self._collate)  # what scoring_batches samples from
        return scoring_batches(rows, n, self._batch_size, data=data, seed=seed)

    def restore_head(self) -> None:
        """Nothing to restore: the head trains with the Trainer."""


class RankscopeCallback(TrainerCallback):
    """``allocator`` (name or instance), ``space`` (name or :class:`~rankscope.space.graph.SearchSpace`) and
    ``budget`` (``"r2"``, a parameter count, …) as in ``rankscope search``; ``options`` are the
    allocator's. ``objective`` overrides the scoring loss (default: picked from the model in
    :meth:`prepare`, see the module docstring); after ``prepare`` it is the one in use."""

    def __init__(self, allocator, space, budget, *, options: dict | None = None, alpha=None,
                 scaling: str = DEFAULT_SCALING, orth_reg: float = 0.5, seed: int = 0, objective=None):
        self.allocator = ALLOCATORS.get(allocator)(**(options or {})) if isinstance(allocator, str) else allocator
        if not isinstance(self.allocator, Allocator):
            raise InputError(f"RankscopeCallback needs an Allocator or a registered name, got {allocator!r}")
        name = self.allocator.name or type(self.allocator).__name__
        if name not in SUPPORTED:
            raise InputError(f"RankscopeCallback needs an in-training allocator ({', '.join(SUPPORTED)}); {name!r} "
                             "is not one of them: use `rankscope search`, or attach its proposal yourself")
        if getattr(self.allocator.opts, "compact", False):
            self.allocator.opts.compact = False  # the Trainer owns the optimizer: no mid-run rebuild
        self.space, self.budget_spec, self.alpha, self.scaling = space, budget, alpha, scaling
        self.orth_reg, self.seed, self.objective_spec, self.objective = orth_reg, seed, objective, objective
        self.handle = self.plan = self.hook = self.state = None
        self.total_steps = 0

    # ------------------------------------------------------------------------------ set-up
    def prepare(self, model, total_steps: int, *, train_dataset=None, data_collator=None, batch_size: int = 8,
                gradient_checkpointing: bool = False):
        """Attach the allocator's supernet to ``model`` (call before building the Trainer, so
        its optimizer sees the adapters); ``total_steps`` = the optimizer steps the Trainer will
        run (``args.max_steps``, or epochs × steps per epoch). Returns ``model``. On a
        half-precision model the task head becomes float32; ``gradient_checkpointing`` turns
        on non-reentrant checkpointing (module docstring, "Bigger bases").

        ``proxy-dynamic`` also scores the edges on K batches of ``batch_size`` drawn (seeded)
        from ``train_dataset`` and batched by ``data_collator`` (the ones you give the Trainer)."""
        from rankscope.registry import SPACES

        if not isinstance(total_steps, int) or total_steps < 1:
            raise InputError(f"total_steps must be the Trainer's number of optimizer steps (≥ 1), got {total_steps!r}")
        space = self.space if not isinstance(self.space, str) else SPACES.get(self.space)(model)
        budget = self.budget_spec if isinstance(self.budget_spec, Budget) else Budget.parse(self.budget_spec, space)
        self.total_steps = total_steps
        if self.allocator.name == "proxy-dynamic" and (train_dataset is None or data_collator is None):
            raise InputError("proxy-dynamic scores the edges on batches of your training data: call "
                             "prepare(model, total_steps, train_dataset=..., data_collator=...)")
        trainer = CallbackTrainer(total_steps, model, train_dataset, data_collator, batch_size, self.objective_spec)
        self.objective = trainer.objective
        self.plan = self.allocator.propose(AllocationContext(space, budget, model, trainer, self.seed, progress=False))
        if self.plan.hook is None:
            raise InputError(f"{self.allocator.name!r} decides before training: use `rankscope search`, or "
                             "attach its proposal yourself")
        self.hook = self.plan.hook
        self.handle = attach(model, space, self.plan.allocation, seed=self.seed, alpha=self.alpha,
                             scaling=self.scaling)
        if next(model.parameters()).dtype in (torch.bfloat16, torch.float16):
            keep_head_float32(model)  # the Trainer's AdamW updates a float32 head, as the adapters
        for child in head_modules(model).values():  # the task head trains (a causal LM has none)
            child.requires_grad_(True)
        if gradient_checkpointing:
            enable_checkpointing(model)
        if self.handle.form == "svd" and self.orth_reg > 0:
            model.register_forward_hook(self._add_orth_penalty)
        return model

    def _add_orth_penalty(self, module, args, output):
        loss = getattr(output, "loss", None)
        if module.training and loss is not None and len(self.handle.adapters):
            output["loss"] = loss + self.orth_reg * self.handle.orth_penalty()
        return output

    # ------------------------------------------------------------------------------ events
    def on_train_begin(self, args, state, control, model=None, optimizer=None, lr_scheduler=None,
                       train_dataloader=None, **kw):
        if self.handle is None:
            raise InputError("call RankscopeCallback.prepare(model, total_steps) before building the Trainer")
        if state.max_steps != self.total_steps:
            raise InputError(f"the Trainer will run {state.max_steps} optimizer steps but the callback was "
                             f"prepared for {self.total_steps}: pass total_steps={state.max_steps} to prepare()")
        distributed.refuse_gradient_sharding(args, self.allocator.name)  # DeepSpeed ZeRO-2/3, FSDP
        if reentrant_checkpointing(model):
            raise InputError("the model checkpoints its blocks with use_reentrant=True, which gives adapters in a "
                             "frozen base no gradient: pass TrainingArguments(gradient_checkpointing_kwargs="
                             "{'use_reentrant': False}), or prepare(..., gradient_checkpointing=True)")
        if self.allocator.name == "proxy-dynamic" and distributed.active():
            raise InputError("proxy-dynamic scores with extra backward passes, which DDP's gradient hooks do not "
                             "allow inside the Trainer: run it in one process, or use `torchrun -m rankscope.cli "
                             "search --allocator proxy-dynamic` (data-parallel, decisions on rank 0)")
        batches = len(train_dataloader) if train_dataloader is not None else state.max_steps
        self.state = TrainState(model, self.handle, optimizer, lr_scheduler, self.total_steps,
                                max(1, batches // max(1, args.gradient_accumulation_steps)))
        self.hook.on_train_begin(self.state)

    def on_optimizer_step(self, args, state, control, **kw):
        self.state.step += 1
        self.hook.on_step_end(self.state.step, self.state)

    def on_train_end(self, args, state, control, **kw):
        if self.state is None:
            return
        if self.state.step < self.total_steps:
            raise TrainingError(f"training ended at optimizer step {self.state.step} of {self.total_steps}, before "
                                f"{self.allocator.name} finished allocating; the adapters are still the supernet's")
        self.hook.on_train_end(self.state)

    @property
    def allocation(self):
        """The allocation the masks describe now (the final one after training)."""
        return self.handle.allocation

    def describe(self) -> dict:
        """What the allocator decided (prune events, reallocations, …), as ``result.json`` records it."""
        return self.plan.describe() if self.plan is not None else {}
