"""One extra worker of an outer search: ``python -m rankscope.search.worker CONFIG WORKDIR INDEX``.

Started by :class:`~rankscope.allocators.optuna.launcher.ProcessLauncher`. It loads the run's resolved
configuration, sets its own ``worker_index``, and runs trials of the shared study until the
study holds ``n_trials`` (no final training, no report). Exit codes as the CLI's: 2 for bad
input, 1 for a failure.
"""

from __future__ import annotations

import sys

from rankscope.errors import InputError, RankscopeError


def main(argv: list[str] | None = None) -> int:
    from rankscope.search.config import SearchConfig
    from rankscope.search.pipeline import run_trials_only

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3 or not args[2].isdigit():
        print("usage: python -m rankscope.search.worker CONFIG WORKDIR INDEX", file=sys.stderr)
        return 2
    config, workdir, index = args[0], args[1], int(args[2])
    try:
        cfg = SearchConfig.from_toml(config)
        cfg.allocator_options.update(worker_index=index, workers=1, trials_only=True)
        run_trials_only(cfg.resolved(), workdir, progress=False)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except RankscopeError as exc:
        print(f"failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
