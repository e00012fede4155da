"""Every mistake a newcomer makes on the command line, one row each: the exit code, the start of
the message, no traceback, and nothing left behind.

Each case runs ``rankscope`` in-process from a fresh, empty working directory and then checks that
the directory is still empty and that the inputs it was given are unchanged. :data:`CASES` is
also the table of ``docs/guide/reliability.md``; :func:`test_the_docs_table_is_the_cases` keeps
the two the same (regenerate it with ``python tests/cli/test_bad_input_cli.py``).

Placeholders in a command: ``{cfg}`` is a tiny planted-task config file (tiny-bert, 2 steps),
``{run}`` a copy of a finished tiny run directory, ``{in}`` the folder holding the case's files
(``files``: path under ``{in}`` → text, bytes, or a function of the tiny run's result dict).
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

if __name__ == "__main__":  # run as a script (to rewrite the docs table): conftest sits one folder up
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import REPO, run_cli_out  # noqa: E402

ROOT = REPO
TINY_CFG = 'model = "tiny-bert"\nmax_steps = 2\n[planted]\nn_train = 32\nn_dev = 16\nseq_len = 8\nn_plants = 2\n'
GOOD_CSV = "text,label\na,0\nb,1\nc,0\nd,1\n"
NOTES = {"notes.txt": "not a directory\n"}


@dataclass
class Case:
    mistake: str
    command: str
    message: str  # the start (or a telling part) of the message; {in} stands for the input folder
    files: dict = field(default_factory=dict)
    code: int = 2
    env: dict = field(default_factory=dict)  # environment changes (None: unset)
    no_cuda: bool = False  # run as on a machine without CUDA


def result_with(**changes):
    return lambda result: json.dumps({**result, **changes})


def conf(text: str) -> dict:
    """A config file ``c.toml``: ``text`` after the tiny model and 2 steps (unless ``text`` sets them)."""
    header = "".join(line for line in ('model = "tiny-bert"\n', "max_steps = 2\n")
                     if not re.match(rf"(?m)^{line.split()[0]} =", text))
    return {"c.toml": header + text}


def causal(row: str) -> dict:
    """A causal-task directory ``d`` whose train and dev files hold ``row``."""
    return {"d/train.jsonl": row + "\n", "d/dev.jsonl": row + "\n"}


QA = {"qa.jsonl": '{"q": "2+2?", "answer": "4"}\n' * 4}  # columns that fit no row format by name
GSM8K_ROW = '{"question": "What is 2+2?", "answer": "2+2=4\\n#### 4"}\n'
GSM8K_FILES = {"g/train.jsonl": GSM8K_ROW * 4, "g/test.jsonl": GSM8K_ROW * 2}


def custom(**files):
    return {f"data/{name.replace('_', '.')}": text for name, text in files.items()}


C, S, K = "search --config {cfg}", "search --model tiny-bert --max-steps 2", "search --config {in}/c.toml"
L = "search --model tiny-llama --task causal --max-steps 1"
CASES = [
    # ------------------------------------------------------------------ the command line itself
    Case("integer flag given a word", "search --max-steps ten",
         "Invalid value for '--max-steps': Input should be a valid integer"),
    Case("number flag given a word", "search --lr fast", "Invalid value for '--lr': Input should be a valid number"),
    Case("unknown flag", "search --learning-rate 3", "No such option: --learning-rate"),
    Case("flag without its value", "search --max-steps", "Option '--max-steps' requires an argument"),
    Case("switch given a value", "search --quiet=yes", "Option '--quiet' does not take a value"),
    Case("misspelt command", "serch", "No such command 'serch'. Did you mean 'search'?"),
    # ------------------------------------------------------------------ numbers out of range
    Case("zero steps", f"{C} --max-steps 0", "--max-steps must be a positive integer, got 0"),
    Case("negative seed", f"{C} --seed -1", "--seed must be a non-negative integer, got -1"),
    Case("zero batch size", f"{C} --batch-size 0", "--batch-size must be a positive integer, got 0"),
    Case("infinite learning rate", f"{C} --lr inf", "--lr must be positive, got inf"),
    Case("NaN learning rate", f"{C} --lr nan", "--lr must be positive, got nan"),
    Case("zero baseline learning rate", f"{C} --baseline-lr 0", "--baseline-lr must be positive, got 0.0"),
    Case("warm-up ratio above 1", f"{C} --warmup-ratio 1.5", "--warmup-ratio must be in [0, 1), got 1.5"),
    Case("max length too short", f"{C} --max-len 4", "--max-len must be an integer of at least 8, got 4"),
    Case("zero alpha", f"{C} --alpha 0", "--alpha must be a positive number, got 0.0"),
    Case("zero max rank", f"{C} --max-rank 0", "--max-rank must be a positive integer, got 0"),
    Case("negative eval interval", f"{C} --eval-every -1", "--eval-every must be an integer >= 0"),
    Case("negative weight decay", f"{C} --weight-decay -0.1", "--weight-decay must be >= 0, got -0.1"),
    # ------------------------------------------------------------------ names
    Case("unknown allocator", f"{C} --allocator nope", "unknown allocator 'nope'; available: adalora, optuna"),
    Case("empty allocator", f"{C} --allocator ''", "--allocator must be a name, got ''; available: adalora"),
    Case("unknown space", f"{C} --space nope", "unknown search space 'nope'; available: lora, lora-qv, shortcuts"),
    Case("unknown task", f"{C} --task nope", "unknown task 'nope'; available: cola"),
    Case("unknown model", f"{C} --model no-such-model", "cannot load model 'no-such-model'"),
    Case("missing local model directory", f"{C} --model ./no/such/model",
         "model directory './no/such/model' does not exist; known aliases: minilm"),
    Case("unknown proxy", f"{C} --allocator proxy-static --proxy nope", "unknown proxy 'nope'; available: alpha_test"),
    Case("unknown proxy in also", f"{C} --allocator proxy-static -o 'also=[\"nope\"]'", "unknown proxy 'nope'"),
    Case("unknown sampler", f"{C} --allocator optuna --sampler nope",
         "unknown sampler 'nope'; valid: tpe, gp, cmaes, random, nsga2"),
    Case("unknown pruner", f"{C} --allocator optuna --pruner nope", "unknown pruner 'nope'; valid: median, hyperband"),
    Case("unknown preset", f"{C} --preset nope", "unknown preset 'nope'; valid: quick, calibrated"),
    Case("planted preset on a GLUE task", f"{S} --task mrpc --preset quick",
         "preset 'quick' is a variant of the planted task, not of 'mrpc'"),
    Case("unknown baseline", f"{C} --baseline adalora", "unknown baseline 'adalora'; available: uniform"),
    Case("unknown scaling", f"{C} --scaling sqrt", "unknown scaling 'sqrt'; valid: rslora (alpha/sqrt(r)), lora"),
    Case("unknown device", f"{C} --device tpu", "--device must be cpu, cuda or cuda:N, got 'tpu'"),
    Case("malformed CUDA device", f"{C} --device cuda:x", "--device must be cpu, cuda or cuda:N, got 'cuda:x'"),
    Case("CUDA on a machine without it", f"{C} --device cuda",
         "--device cuda: no CUDA device is available here", no_cuda=True),
    # ------------------------------------------------------------------ allocator options
    Case("option of another allocator", f"{C} --proxy snip", "allocator 'uniform' has no option 'proxy'; it takes no options"),
    Case("unknown allocator option", f"{C} --allocator salient -o nope=1",
         "allocator 'salient' has no option 'nope'; valid options: init_rank"),
    Case("option without =", f"{C} -o novalue", "--option 'novalue' must look like KEY=VALUE"),
    Case("option out of range", f"{C} --allocator salient -o init_rank=-3",
         "salient option: init_rank must be an integer >= 1, got -3"),
    Case("option of the wrong type", f"{C} --allocator salient -o init_rank=abc",
         "salient option: init_rank must be an integer >= 1, got 'abc'"),
    Case("zero trials", f"{C} --allocator optuna --n-trials 0", "n_trials must be a positive integer"),
    Case("zero workers", f"{C} --allocator optuna --workers 0", "workers must be >= 1, got 0"),
    Case("storage in a missing directory", f"{C} --allocator optuna --storage journal:/no/such/dir/j.log",
         "the journal file's directory does not exist; valid:"),
    Case("--trials-only without an outer search", f"{C} --trials-only",
         "--trials-only applies to outer-search allocators (optuna), not 'uniform'"),
    # ------------------------------------------------------------------ budgets
    Case("budget above the space", f"{C} --budget 1000G",
         "budget '1000G' = 1,000,000,000,000 parameters is above what space 'shortcuts' can hold"),
    Case("rank budget above --max-rank", f"{C} --budget r100000",
         "budget 'r100000' asks for rank 100000 on every edge, above --max-rank 64"),
    Case("budget below one rank", f"{C} --budget 10",
         "budget '10' = 10 parameters is below the cheapest non-empty allocation"),
    Case("rank-0 budget", f"{C} --budget r0", "budget 'r0' = 0 parameters is below the cheapest non-empty allocation"),
    Case("negative budget", f"{C} --budget -5", "budget '-5' does not parse; use '250k', '1.2M', '300000' or 'rN'"),
    Case("empty budget", f"{C} --budget ''", "budget '' does not parse"),
    Case("planted budget on a GLUE task", f"{S} --task mrpc --budget planted",
         "--budget planted (the planted parameter count) applies to --task planted only"),
    # ------------------------------------------------------------------ data
    Case("GLUE data directory missing", f"{S} --task mrpc --data-dir /no/such/glue",
         "GLUE data directory /no/such/glue (from data_dir) does not exist"),
    Case("GLUE data directory without the task", f"{S} --task mrpc --data-dir {{in}}/glue",
         "GLUE task 'mrpc' (train): expected the file", files={"glue/README": "no tasks here\n"}),
    Case("GLUE task, no --data-dir, hub offline", f"{S} --task mrpc",
         "could not load GLUE task 'mrpc' (train) from the Hugging Face hub",
         env={"RANKSCOPE_GLUE_DIR": None, "HF_DATASETS_OFFLINE": "1"}),
    Case("custom task without --data-dir", f"{S} --task custom", "--task custom needs --data-dir DIR"),
    Case("empty --data-dir", f"{S} --task custom --data-dir ''", "--data-dir must be a directory path, got ''"),
    Case("custom data directory missing", f"{S} --task custom --data-dir /no/such/data",
         "custom data directory /no/such/data does not exist"),
    Case("custom data directory is a file", f"{S} --task custom --data-dir {{in}}/notes.txt",
         "custom data directory {in}/notes.txt is a file, not a directory", files=NOTES),
    Case("custom data directory empty", f"{S} --task custom --data-dir {{in}}/data",
         "expected {in}/data/train.csv or {in}/data/train.jsonl, neither exists", files={"data/README": "\n"}),
    Case("custom data without dev", f"{S} --task custom --data-dir {{in}}/data",
         "expected {in}/data/dev.csv or {in}/data/dev.jsonl, neither exists", files=custom(train_csv=GOOD_CSV)),
    Case("custom split is a directory", f"{S} --task custom --data-dir {{in}}/data",
         "{in}/data/dev.csv is not a file", files={**custom(train_csv=GOOD_CSV), "data/dev.csv/x": ""}),
    Case("custom CSV without a label column", f"{S} --task custom --data-dir {{in}}/data",
         "train.csv: expected the columns text, label (and optionally text_pair); found ['text', 'y']",
         files=custom(train_csv="text,y\na,0\n", dev_csv=GOOD_CSV)),
    Case("custom JSONL not JSON", f"{S} --task custom --data-dir {{in}}/data", "train.jsonl:1: not valid JSON",
         files=custom(train_jsonl="{nope\n", dev_csv=GOOD_CSV)),
    Case("custom file not UTF-8", f"{S} --task custom --data-dir {{in}}/data", "train.csv is not UTF-8 text",
         files=custom(train_csv=b"text,label\n\xff\xfe,0\n", dev_csv=GOOD_CSV)),
    Case("custom negative label", f"{S} --task custom --data-dir {{in}}/data", "train.csv:2: class label -1 is negative",
         files=custom(train_csv="text,label\na,-1\nb,1\n", dev_csv=GOOD_CSV)),
    Case("custom label is a word", f"{S} --task custom --data-dir {{in}}/data",
         "train.csv:2: label 'pos' is not a finite number", files=custom(train_csv="text,label\na,pos\n", dev_csv=GOOD_CSV)),
    Case("custom data with one class", f"{S} --task custom --data-dir {{in}}/data", "every label is 0",
         files=custom(train_csv="text,label\na,0\n", dev_csv="text,label\nb,0\n")),
    Case("custom training labels of a single class", f"{S} --task custom --data-dir {{in}}/data",
         "the training labels of --task custom hold a single class (1); a classifier needs examples of at least two",
         files=custom(train_csv="text,label\na,1\nb,1\n", dev_csv="text,label\nc,0\nd,1\n")),
    Case("a training subset of a single class", f"{S} --task custom --data-dir {{in}}/data --max-train-samples 1",
         "(--max-train-samples 1 kept 1 row; raise it)", files=custom(train_csv=GOOD_CSV, dev_csv=GOOD_CSV)),
    Case("custom split in two formats", f"{S} --task custom --data-dir {{in}}/data", "keep one file per split",
         files=custom(train_csv=GOOD_CSV, train_jsonl='{"text": "a", "label": 0}\n', dev_csv=GOOD_CSV)),
    Case("custom CSV with an unquoted comma", f"{S} --task custom --data-dir {{in}}/data",
         "train.csv:2: more fields than the 2 header columns", files=custom(train_csv="text,label\na,b,0\n", dev_csv=GOOD_CSV)),
    Case("custom text is a number", f"{S} --task custom --data-dir {{in}}/data", "train.jsonl:1: text must be a string, got 5",
         files=custom(train_jsonl='{"text": 5, "label": 0}\n{"text": "b", "label": 1}\n', dev_csv=GOOD_CSV)),
    Case("custom dev file with no rows", f"{S} --task custom --data-dir {{in}}/data", "dev.csv holds no examples",
         files=custom(train_csv=GOOD_CSV, dev_csv="text,label\n")),
    # ------------------------------------------------------------------ config files
    Case("config file missing", f"{S} --config {{in}}/nope.toml", "config file {in}/nope.toml does not exist or is not a file"),
    Case("config path is a directory", f"{S} --config {{in}}", "config file {in} does not exist or is not a file"),
    Case("config not TOML", K, "config file {in}/c.toml is not valid TOML",
         files={"c.toml": "model = \n"}),
    Case("config not UTF-8", K, "config file {in}/c.toml is not UTF-8 text",
         files={"c.toml": b'model = "\xff"\n'}),
    Case("config unknown key", K, "unknown keys ['learning_rate']; valid keys: preset, space",
         files=conf("learning_rate = 3\n")),
    Case("config integer given a string", K, "--max-steps must be a positive integer, got 'ten'",
         files=conf('max_steps = "ten"\n')),
    Case("config integer given a fraction", K, "--seed must be a non-negative integer, got 1.5",
         files=conf("seed = 1.5\n")),
    Case("config name given a number", K, "--model must be a name, got 5; available: minilm",
         files=conf("model = 5\n")),
    Case("config name given a list", K, "--space must be a name, got ['lora']; available: lora",
         files=conf('space = ["lora"]\n')),
    Case("config switch given a string", K, "trust_remote_code must be true or false, got 'yes'",
         files=conf('trust_remote_code = "yes"\n')),
    Case("config list given a string", K, "baseline must be a list of names",
         files=conf('baseline = "uniform"\n')),
    Case("config path given a number", f"{K} --task custom", "--data-dir must be a directory path, got 3",
         files=conf("data_dir = 3\n")),
    Case("config table given a number", K, "planted must be a table ([planted] with KEY = VALUE",
         files=conf("planted = 3\n")),
    Case("config options given a string", K, "allocator_options must be a table",
         files=conf('allocator_options = "x"\n')),
    Case("unknown [planted] key", K, "[planted] options: unknown keys ['bogus']; valid keys: n_plants",
         files={"c.toml": TINY_CFG + "bogus = 1\n"}),
    Case("zero plants", K, "[planted] n_plants must be a positive integer, got 0",
         files={"c.toml": TINY_CFG.replace("n_plants = 2", "n_plants = 0")}),
    Case("negative planted rows", K, "[planted] n_train must be a positive integer, got -1",
         files={"c.toml": TINY_CFG.replace("n_train = 32", "n_train = -1")}),
    Case("planted rank 0", K, "[planted] ranks must be a non-empty list of positive integers",
         files={"c.toml": TINY_CFG + "ranks = [0]\n"}),
    Case("unknown planted targets", K, "[planted] targets must be 'tokens' or 'pooled', got 'nope'",
         files={"c.toml": TINY_CFG + 'targets = "nope"\n'}),
    Case("[planted] on a GLUE task", f"{S} --config {{cfg}} --task mrpc", "[planted] options apply to --task planted only"),
    # ------------------------------------------------------------------ the run directory
    Case("--out exists", f"{C} --out {{run}}", "already exists; pass --overwrite or choose another --out"),
    Case("--out is a file", f"{C} --out {{in}}/notes.txt", "--out {in}/notes.txt exists and is not a directory", files=NOTES),
    Case("--out under a file", f"{C} --out {{in}}/notes.txt/run",
         "--out {in}/notes.txt/run lies under {in}/notes.txt, which is a file", files=NOTES),
    Case("empty --out", f"{C} --out ''", "--out is empty; give a directory path"),
    # /proc refuses new entries even to root, whom permission bits do not stop
    Case("--out under a directory that refuses writes", f"{C} --out /proc/x/run",
         "--out /proc/x/run: cannot write under /proc"),
    # ------------------------------------------------------------------ show
    Case("show a missing directory", "show /no/such/run", "/no/such/run is not a run directory (no result.json)"),
    Case("show a file", "show {in}/notes.txt", "{in}/notes.txt is not a run directory (no result.json)", files=NOTES),
    Case("show: result.json is a list", "show {run}", "is not a rankscope result: expected a JSON object, got list",
         files={"run/result.json": "[1, 2]"}),
    Case("show: result.json is {}", "show {run}",
         "is not a rankscope result: missing space, allocator, model, task, budget, allocation, metrics",
         files={"run/result.json": "{}"}),
    Case("show: result.json not JSON", "show {run}", "result.json is not valid JSON", files={"run/result.json": "{nope"}),
    Case("show: result.json not UTF-8", "show {run}", "cannot read {in}/run/result.json (a rankscope result.json)",
         files={"run/result.json": b"\xff\xfe"}),
    Case("show: result of another schema", "show {run}", "has result schema 2; this rankscope reads schema 1",
         files={"run/result.json": result_with(schema=2)}),
    Case("show: history not a list", "show {run}", "is not a rankscope result: 'history' must be a list, got 'x'",
         files={"run/result.json": result_with(history="x")}),
    Case("show: space not a string", "show {run}", "is not a rankscope result: 'space' must be a string, got 5",
         files={"run/result.json": result_with(space=5)}),
    Case("show: edges not a list", "show {run}", "is not a rankscope result: allocation.edges must be a list",
         files={"run/result.json": result_with(allocation={"params": 1, "edges": "x"})}),
    Case("show: corrupt allocation.json (not read)", "show {run}", "rankscope report: shortcuts / uniform",
         files={"run/allocation.json": "{nope"}, code=0),
    Case("show without a directory", "show", "Missing argument 'run_dir'"),
    # ------------------------------------------------------------------ report
    Case("report: result.json is {}", "report {run}", "is not a rankscope result: missing space",
         files={"run/result.json": "{}"}),
    Case("report: corrupt allocation.json (not read)", "report {run}", "rankscope comparison of 1 run",
         files={"run/allocation.json": "{nope"}, code=0),
    Case("report a missing directory", "report {run} /no/such", "/no/such is not a run directory (no result.json)"),
    Case("report --out is a file", "report {run} --out {in}/notes.txt",
         "--out {in}/notes.txt is a file; report writes report.md and report.html into a directory", files=NOTES),
    Case("report --out under a file", "report {run} --out {in}/notes.txt/cmp",
         "--out {in}/notes.txt/cmp lies under {in}/notes.txt, which is a file", files=NOTES),
    Case("report empty --out", "report {run} --out ''", "--out is empty; give a directory path"),
    Case("report --out under a directory that refuses writes", "report {run} --out /proc/x",
         "--out /proc/x: cannot write under /proc"),
    # ------------------------------------------------------------------ export
    Case("export a directory that is not a run", "export {in}/glue --peft {in}/peft",
         "{in}/glue is not a run directory (no result.json)", files={"glue/README": "\n"}),
    Case("export a run without adapters", "export {in}/bare --peft {in}/peft", "has no trained adapters (adapter/)",
         files={"bare/result.json": result_with()}),
    Case("export --peft onto an existing directory", "export {run} --peft {in}/peft",
         "--peft {in}/peft already exists; pass --overwrite", files={"peft/old": "\n"}),
    Case("export --peft onto a file", "export {run} --peft {in}/notes.txt --overwrite",
         "--peft {in}/notes.txt exists and is a file; give a directory path", files=NOTES),
    Case("export --peft into the run itself", "export {run} --peft {run} --overwrite",
         "overlaps the run directory"),
    Case("export --peft under a directory that refuses writes", "export {run} --peft /proc/x/peft",
         "--peft /proc/x/peft: cannot write under /proc"),
    Case("export --merged under a directory that refuses writes", "export {run} --merged /proc/x/merged",
         "--merged /proc/x/merged: cannot write under /proc"),
    Case("export without --peft or --merged", "export {run}",
         "nothing to export: give --peft DIR (a PEFT adapter), --merged DIR"),
    Case("export --merged onto an existing directory", "export {run} --merged {in}/merged",
         "--merged {in}/merged already exists; pass --overwrite", files={"merged/old": "\n"}),
    Case("export --merged onto a file", "export {run} --merged {in}/notes.txt --overwrite",
         "--merged {in}/notes.txt exists and is a file; give a directory path", files=NOTES),
    Case("export --merged into the run itself", "export {run} --merged {run}/merged", "overlaps the run directory"),
    Case("export --merged under a file", "export {run} --merged {in}/notes.txt/m",
         "--merged {in}/notes.txt/m lies under {in}/notes.txt, which is a file", files=NOTES),
    Case("export --peft and --merged into one directory", "export {run} --peft {in}/out --merged {in}/out",
         "--peft {in}/out and --merged {in}/out overlap; give separate directories"),
    Case("export --peft-config of an allocation with shortcuts", "export {run} --peft-config {in}/cfg",
         "the allocation gives rank to"),
    Case("export --merged of an allocation with shortcuts", "export {run} --merged {in}/out/merged",
         "A shortcut reads one point of the network and writes into another, and that is not a weight delta on "
         "one module"),
    Case("export --peft and --merged of an allocation with shortcuts",
         "export {run} --peft {in}/out/peft --merged {in}/out/merged", "so plain PEFT cannot hold them"),
    # ------------------------------------------------------------------ bigger bases
    Case("unknown --dtype", f"{C} --dtype float8", "--dtype must be one of float32, bfloat16, float16, got 'float8'"),
    Case("--dtype float16 on CPU", f"{C} --dtype float16", "--dtype float16 runs on cuda only", no_cuda=True),
    # ------------------------------------------------------------------ plan
    Case("plan with an in-training allocator", "plan --config {cfg} --allocator salient --out {in}/p",
         "allocator 'salient' allocates during training (its ranks come from the training itself), so there is "
         "nothing to plan before training"),
    Case("plan --out under a directory that refuses writes", "plan --config {cfg} --out /proc/x/p",
         "--out /proc/x/p: cannot write under /proc"),
    Case("plan --out onto a file", "plan --config {cfg} --out {in}/notes.txt", "--out {in}/notes.txt exists and is not a directory",
         files=NOTES),
    Case("plan with --baseline (it trains nothing)", "plan --config {cfg} --baseline uniform --out {in}/p",
         "No such option: --baseline"),
    # ------------------------------------------------------------------ decoder tasks (causal LM)
    Case("causal: a row in none of the three formats", f"{L} --data-dir {{in}}/d",
         "{in}/d/train.jsonl:1: a row with the keys ['answer', 'question'] is in none of the three row formats", files=causal('{"question": "2+2?", "answer": "4"}')),
    Case("causal: messages without an assistant turn", f"{L} --data-dir {{in}}/d", "no assistant turn",
         files=causal('{"messages": [{"role": "user", "content": "hi"}]}')),
    Case("causal: messages with roles out of order", f"{L} --data-dir {{in}}/d", "{in}/d/train.jsonl:1: messages[0] has the role 'assistant' where 'user' is expected",
         files=causal('{"messages": [{"role": "assistant", "content": "a"}, {"role": "user", "content": "b"}]}')),
    Case("causal: messages and a tokenizer without a chat template", f"{L} --data-dir {{in}}/d",
         "rows in the messages format are rendered with the tokenizer's chat template",
         files=causal('{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}')),
    Case("causal: an empty response", f"{L} --data-dir {{in}}/d", "empty response",
         files=causal('{"prompt": "2+2?", "response": ""}')),
    Case("causal: a file that is not JSON Lines", f"{L} --data-dir {{in}}/d", "{in}/d/train.jsonl:2: not valid JSON Lines",
         files=causal('{"prompt": "a", "response": "b"}\n{"prompt": oops')),
    Case("causal: no --data-dir", L, "--task causal needs --data-dir DIR"),
    Case("causal task on an encoder", f"{L} --model tiny-bert --data-dir {{in}}/d", "needs a decoder model",
         files=causal('{"prompt": "a", "response": "b"}')),
    Case("causal: --dataset file missing", f"{L} --dataset {{in}}/rows.jsonl",
         "--dataset {in}/rows.jsonl: no such file or directory"),
    Case("causal: --dataset without the named column", f"{L} --dataset {{in}}/qa.jsonl --prompt-column question",
         "--dataset {in}/qa.jsonl has no column 'question' (--prompt-column); its columns: q, answer", files=QA),
    Case("causal: --dataset whose columns fit no row format", f"{L} --dataset {{in}}/qa.jsonl",
         "--dataset {in}/qa.jsonl: none of the row formats fits its columns (columns: q, answer)", files=QA),
    Case("causal: --dataset hub id unreachable", f"{L} --dataset no-such-owner/no-such-data",
         "could not load --dataset from the Hugging Face hub id 'no-such-owner/no-such-data'",
         env={"HF_DATASETS_OFFLINE": "1"}),
    Case("causal: --dataset and --data-dir", f"{L} --dataset {{in}}/qa.jsonl --data-dir {{in}}/d",
         "--dataset and --data-dir are two sources of --task causal rows; give one",
         files={**QA, **causal('{"prompt": "a", "response": "b"}')}),
    Case("causal: a column flag without --dataset", f"{L} --data-dir {{in}}/d --text-column body",
         "--text-column describes a --dataset source", files=causal('{"text": "a"}')),
    Case("--dataset on a GLUE task", f"{S} --task mrpc --dataset rows.jsonl",
         "--dataset applies to --task causal only (rows from a datasets source), not 'mrpc'"),
    Case("gsm8k: a missing data directory", "search --model tiny-llama --task gsm8k --data-dir {in}/nope",
         "GSM8K data not found: {in}/nope (from --data-dir) does not exist. Pass --data-dir DIR"),
    Case("gsm8k: exact-match subset larger than the test file",
         "search --model tiny-llama --task gsm8k --data-dir {in}/g --exact-match 5",
         "--exact-match 5: the GSM8K test file holds 2 problems", files=GSM8K_FILES),
    Case("exact match on a task without gold answers", f"{L} --data-dir {{in}}/d --exact-match 4",
         "exact-match accuracy needs gold final answers", files=causal('{"prompt": "a", "response": "b"}')),
    Case("--max-dev-samples on the planted task", f"{C} --max-dev-samples 8",
         "--max-dev-samples does not apply to --task planted"),
    # ------------------------------------------------------------------ compare
    Case("compare: a single run", "compare {run}", "compare needs at least two run directories"),
    Case("compare: a directory that is not a run", "compare {run} {in}/glue",
         "{in}/glue is not a run directory (no result.json)", files={"glue/README": "\n"}),
    Case("compare: the same run twice", "compare {run} {run}",
         "two uniform runs have seed 0"),
    Case("an integer beyond a C int", f"{C} --max-steps 99999999999999999999",
         "--max-steps must be at most 2,147,483,647, got 99999999999999999999"),
    Case("--budget-space: unknown space", f"{C} --budget r2 --budget-space nope",
         "unknown search space 'nope'; available: lora, lora-qv, shortcuts"),
    Case("--budget-space with a parameter count", f"{C} --budget 250k --budget-space lora",
         "--budget-space lora counts an rN budget (e.g. --budget r2) in that space; --budget 250k is a parameter count"),
    Case("compare: a zero effect size", "compare {run} {run} --effect 0",
         "--effect must be a positive size of difference (got 0.0)"),
    # ------------------------------------------------------------------ show-space, ls
    Case("show-space: unknown space", "show-space nope --model tiny-bert",
         "unknown search space 'nope'; available: lora, lora-qv, shortcuts"),
    Case("show-space: unknown model", "show-space lora --model no-such-model", "cannot load model 'no-such-model'"),
    Case("show-space: empty model", "show-space lora --model ''", "--model is empty; available: minilm"),
    Case("show-space: zero max rank", "show-space lora --model tiny-bert --max-rank 0",
         "--max-rank must be a positive integer, got 0"),
    Case("show-space: graph into a missing directory", "show-space lora --model tiny-bert --graphml /no/such/g.graphml",
         "--graphml /no/such/g.graphml: the directory /no/such does not exist"),
    Case("show-space: graph under a directory that refuses writes",
         "show-space lora --model tiny-bert --graphml /proc/g.graphml", "--graphml /proc/g.graphml: cannot write under /proc"),
    Case("show-space: graph path is a directory", "show-space lora --model tiny-bert --graphml {in}/glue",
         "--graphml {in}/glue is a directory; give a file path", files={"glue/README": "\n"}),
    Case("show-space: graph under a file", "show-space lora --model tiny-bert --dot {in}/notes.txt/g.dot",
         "--dot {in}/notes.txt/g.dot lies under {in}/notes.txt, which is a file", files=NOTES),
    Case("show-space: empty graph path", "show-space lora --model tiny-bert --graphml ''", "--graphml is empty"),
    Case("ls: unknown kind", "ls nope", "'nope' is not one of 'spaces', 'allocators', 'proxies', 'models', 'tasks'"),
    Case("ls without a kind", "ls", "Missing argument 'kind'"),
]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A finished tiny planted run (uniform on shortcuts, with its trained adapters)."""
    root = tmp_path_factory.mktemp("tiny-run")
    (root / "tiny.toml").write_text(TINY_CFG)
    code, _, err = _run_main(["search", "--config", str(root / "tiny.toml"), "--out", str(root / "run"), "--quiet"])
    assert code == 0, err
    return root / "run"


def _run_main(argv):
    import contextlib
    import io

    from rankscope.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(argv)
            code = 0
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def prepare(case: Case, inp: Path, tiny_run: Path) -> list[str]:
    """Write the case's inputs under ``inp``; return its argv."""
    inp.mkdir()
    (inp / "tiny.toml").write_text(TINY_CFG)
    if "{run}" in case.command:
        shutil.copytree(tiny_run, inp / "run")
    result = json.loads((tiny_run / "result.json").read_text())
    for name, content in case.files.items():
        path = inp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        content = content(result) if callable(content) else content
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
    if (inp / "data" / "dev.csv" / "x").exists():  # "a split that is a directory": keep just the directory
        (inp / "data" / "dev.csv" / "x").unlink()
    command = case.command.format(cfg=inp / "tiny.toml", run=inp / "run", **{"in": inp})
    return shlex.split(command)


def listing(root: Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else None for p in sorted(root.rglob("*"))}


@pytest.mark.parametrize("case", CASES, ids=[c.mistake for c in CASES])
def test_a_mistake_is_refused_clearly_and_leaves_nothing(case, tmp_path, monkeypatch, capsys, tiny_run):
    inp, cwd = tmp_path / "in", tmp_path / "cwd"
    argv = prepare(case, inp, tiny_run)
    before = listing(inp)
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    for key, value in case.env.items():
        monkeypatch.delenv(key, raising=False) if value is None else monkeypatch.setenv(key, value)
    if case.no_cuda:
        import torch

        monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code, out, err = run_cli_out(capsys, *argv)
    expected = case.message.format(**{"in": inp})
    assert code == case.code, (code, err[-2000:])
    assert expected in (out if case.code == 0 else err), err[-2000:]
    assert "Traceback" not in err
    if case.code:  # one message on stderr (log lines aside), nothing on stdout
        assert err.count("error: ") == 1 and not out, (out, err)
    assert list(cwd.iterdir()) == [], "the command left files in the working directory"
    assert listing(inp) == before, "the command changed or added files beside its inputs"


def test_enough_distinct_mistakes():
    assert len(CASES) >= 40
    assert len({c.mistake for c in CASES}) == len(CASES)
    assert {c.command.split()[0] for c in CASES} >= {"search", "show", "report", "export", "show-space", "ls"}


# ----------------------------------------------------------- the documentation's reliability table
PAGE = Path("docs") / "guide" / "reliability.md"
TABLE_HEAD = "| mistake | command | exit | message (start) |\n|---|---|---|---|\n"


def _cell(text: str) -> str:
    return "`" + text.replace("|", "\\|") + "`"


def table_rows() -> list[str]:
    """The page's table rows, generated from :data:`CASES` (paths shortened)."""
    def short(text: str) -> str:
        return (text.replace("{cfg}", "tiny.toml").replace("{run}", "RUN").replace("{{in}}/", "")
                .replace("{in}/", "").replace("{{in}}", ".").replace("{in}", "."))

    return [f"| {c.mistake} | {_cell('rankscope ' + short(c.command))} | {c.code} | {_cell(short(c.message))} |"
            for c in CASES]


def with_table(page: str) -> str:
    """``page`` with everything from the table's head on replaced by the table of :data:`CASES`
    (the table ends the page; the prose above it is the page's own)."""
    return page[:page.index(TABLE_HEAD)] + TABLE_HEAD + "\n".join(table_rows()) + "\n"


def test_the_docs_table_is_the_cases():
    page = (ROOT / PAGE).read_text()
    assert page == with_table(page), \
        f"{PAGE}'s reliability table differs from CASES; regenerate it: python tests/cli/test_bad_input_cli.py"


# ----------------------------------------------------------------- a real process, a few mistakes
@pytest.mark.slow  # starts `python -m rankscope.cli` processes
@pytest.mark.parametrize("argv", [
    ["search", "--max-steps", "ten"],
    ["search", "--model", "tiny-bert", "--lr", "inf"],
    ["search", "--model", "tiny-bert", "--max-steps", "2", "--budget", "r100000"],
    ["show", "{in}"],
    ["ls", "nope"],
])
def test_a_process_prints_no_traceback(argv, tmp_path):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    argv = [a.format(**{"in": tmp_path}) for a in argv]
    p = subprocess.run([sys.executable, "-m", "rankscope.cli", *argv], capture_output=True, text=True,
                       cwd=cwd, timeout=300)
    assert p.returncode == 2, p.stderr
    assert p.stderr.count("error: ") == 1 and "Traceback" not in p.stderr, p.stderr
    assert list(cwd.iterdir()) == []


if __name__ == "__main__":  # rewrite the docs page's table from CASES
    (ROOT / PAGE).write_text(with_table((ROOT / PAGE).read_text()))
    print(f"{PAGE}: {len(CASES)} rows")
