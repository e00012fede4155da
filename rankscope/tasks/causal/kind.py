"""The causal-LM kind: decoders trained on next-token loss over response tokens (``gsm8k``,
and ``causal`` for prompt/response, chat or text rows from ``--data-dir`` JSONL or any
``--dataset`` that ``datasets.load_dataset`` reads), scored by dev NLL per target token
and, for GSM8K, by exact match on test problems after training
(:class:`~rankscope.tasks.kind.TaskKind`).

>>> CAUSAL_KIND.owns("gsm8k"), CAUSAL_KIND.owns("causal"), CAUSAL_KIND.owns("mrpc")
(True, True, False)
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from rankscope.adapters.lora import DEFAULT_SCALING
from rankscope.errors import InputError
from rankscope.tasks.causal.features import CAUSAL_TASKS
from rankscope.tasks.causal.hf_dataset import DatasetSource, check_settings, load_dataset_rows
from rankscope.tasks.kind import (
    LoadedTask,
    TaskKind,
    refuse_exact_match,
    refuse_planted_options,
    refuse_preset,
)

if TYPE_CHECKING:
    from rankscope.search.config import SearchConfig

log = logging.getLogger(__name__)

CAUSAL, GSM8K = CAUSAL_TASKS  # the task names the rows and features know


#: GSM8K test problems decoded after training on CPU: a batch decodes until its longest answer
#: ends (up to 256 tokens), so the cost falls slower than the count (SmolLM2, one thread: 16
#: problems 99 s, 8 problems 65 s); 8 keeps evaluation and decoding of a 20-step run near a
#: third of its time (docs/guide/tasks.md, "Decoder tasks": evaluation cost). A smoke signal:
#: the exact match of 8 problems moves in steps of 12.5 points; ``--exact-match -1`` decodes all
CPU_EXACT_MATCH = 8


class CausalKind(TaskKind):
    name = "causal"
    # one epoch, short batches of long rows (GSM8K needs 512 tokens); evaluation batches of 8:
    # logits are batch × tokens × vocabulary floats. lr: uniform LoRA's best under α/√r at the
    # default budget (r2) on SmolLM2/GSM8K, 40 steps of batch 4 (docs/results/rank-stability.md,
    # "The defaults under α/√r"); a much longer run may want less
    defaults = {"epochs": 1.0, "lr": 2e-3, "batch_size": 8, "eval_batch_size": 8, "max_len": 512,
                "scaling": DEFAULT_SCALING}
    dataset_tasks = (CAUSAL,)  # --dataset: rows from any datasets.load_dataset source

    def owns(self, task: str) -> bool:
        return task in CAUSAL_TASKS

    def task_names(self) -> list[str]:
        return [GSM8K, CAUSAL]

    def resolve(self, settings: dict) -> None:
        # decoding is the cost: a subset of GSM8K's test problems on CPU, all of them on a GPU
        if settings.get("exact_match") is None and settings["task"] == GSM8K:
            settings["exact_match"] = CPU_EXACT_MATCH if settings["device"] == "cpu" else -1

    def check(self, cfg: SearchConfig) -> None:
        if cfg.task == CAUSAL:
            check_settings(cfg)  # --dataset and its flags; not with --data-dir
            if not cfg.data_dir and not cfg.dataset:
                raise InputError("--task causal needs --data-dir DIR holding train.jsonl and dev.jsonl (rows of "
                                 '{"prompt", "response"}, {"messages": [...]} or {"text"}), or --dataset '
                                 "NAME_OR_PATH (a .jsonl, .parquet or .csv file, a directory, or a hub id)")
        refuse_preset(cfg)  # first: a preset fills [planted] options of its own
        refuse_planted_options(cfg)
        if cfg.task != GSM8K:
            refuse_exact_match(cfg)
        elif cfg.exact_match:
            from rankscope.tasks.causal.exact_match import subset_indices, test_size

            subset_indices(test_size(cfg.data_dir), cfg.exact_match)  # the count fits the test file

    def load_model(self, model: str, *, num_labels: int | None = None, trust_remote_code: bool = False,
                   dtype: str | None = None):
        from rankscope.models.loading import load_model

        return load_model(model, causal_lm=True, trust_remote_code=trust_remote_code, dtype=dtype)

    def prepare(self, cfg: SearchConfig, model, tokenizer, space) -> LoadedTask:
        """Prompt/response, chat or text rows → features whose labels mark the target tokens
        (:mod:`rankscope.tasks.causal.features`); the truncation counts are logged. GSM8K with
        ``--exact-match`` also gets its test scorer."""
        import numpy as np

        from rankscope.harness.data import PreparedTask
        from rankscope.harness.objectives import CausalLM
        from rankscope.tasks.causal.features import (
            causal_collate,
            load_causal_rows,
            tokenize_causal,
        )

        if cfg.dataset:  # one load gives both splits (the dev split may be held out of train)
            splits = load_dataset_rows(DatasetSource.from_config(cfg))
        else:
            splits = {split: load_causal_rows(cfg.task, split, data_dir=cfg.data_dir, seed=cfg.seed)
                      for split in ("train", "dev")}
        data = {}
        for split, rows in splits.items():
            if split == "train" and cfg.max_train_samples and cfg.max_train_samples < len(rows):
                keep = np.sort(np.random.default_rng(cfg.seed).choice(len(rows), cfg.max_train_samples, replace=False))
                rows = [rows[i] for i in keep]
            data[split], stats = tokenize_causal(rows, tokenizer, cfg.max_len)
            if stats["prompt_trimmed"] or stats["response_trimmed"]:
                log.info("%s %s: %d of %d rows cut to --max-len %d (prompt trimmed %d, response trimmed %d)",
                         cfg.task, split, max(stats["prompt_trimmed"], stats["response_trimmed"]), stats["rows"],
                         cfg.max_len, stats["prompt_trimmed"], stats["response_trimmed"])
        scorer = None
        if cfg.task == GSM8K and cfg.exact_match:
            from rankscope.tasks.causal.exact_match import GSM8KExactMatch

            scorer = GSM8KExactMatch(tokenizer, cfg.exact_match, data_dir=cfg.data_dir, max_len=cfg.max_len,
                                     max_new_tokens=cfg.max_new_tokens, batch_size=cfg.eval_batch_size * 2,
                                     device=cfg.device)
        prepared = PreparedTask(cfg.task, data["train"], data["dev"], causal_collate(tokenizer), CausalLM())
        return LoadedTask(prepared, test_scorer=scorer)


CAUSAL_KIND = CausalKind()
