"""Worker processes for an outer search, started by the run (never by the allocator itself).

The run hands the Optuna allocator a :class:`ProcessLauncher` through ``ctx.launcher``; ``--workers
N`` asks it for N − 1 extra processes on this machine. Each runs :mod:`rankscope.search.worker`
(not the CLI) on the run's resolved configuration, with its own ``worker_index`` (which seeds its
sampler), and adds trials to the same study. The storage URL travels in the environment
(``$RANKSCOPE_STORAGE``), never on a command line or in a file: the written configuration has
the ``storage`` option removed.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from rankscope.allocators.optuna.storage import ENV
from rankscope.io import atomic_write_text

log = logging.getLogger(__name__)
CONFIG_NAME = "worker-config.toml"


class ProcessLauncher:
    """Starts ``python -m rankscope.search.worker`` processes for ``cfg``'s study in ``workdir``."""

    def __init__(self, cfg, workdir):
        self.cfg, self.workdir = cfg, Path(workdir)

    def start(self, n: int, storage_url: str | None) -> list:
        options = {k: v for k, v in self.cfg.allocator_options.items() if k != "storage"}
        path = self.workdir / CONFIG_NAME
        atomic_write_text(path, replace(self.cfg, allocator_options=options).to_toml())
        env = dict(os.environ)
        if storage_url:
            env[ENV] = storage_url
        procs = []
        for index in range(1, n + 1):
            cmd = [sys.executable, "-m", "rankscope.search.worker", str(path), str(self.workdir), str(index)]
            procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL))
        log.info("started %d worker process(es): pids %s", n, [p.pid for p in procs])
        return procs

    def wait(self, procs: list) -> list[int]:
        """Wait for every worker; a failed worker is logged (its trials are in the study anyway)."""
        codes = []
        for p in procs:
            codes.append(p.wait())
            if codes[-1] != 0:
                log.warning("worker pid %d exited with code %d", p.pid, codes[-1])
        return codes

    def stop(self, procs: list) -> None:
        for p in procs:
            p.terminate()
