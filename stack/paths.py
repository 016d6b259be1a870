"""Where the local stack keeps downloads (cache) and running state (data, logs, pids).

The two folders are the platform's own (``runtime.paths``: ``F1_CACHE_DIR``,
``F1_STATE_DIR``); this module names what the stack keeps in them.
"""

from __future__ import annotations

from pathlib import Path

from runtime.paths import PROJECT_ROOT, cache_dir, local_influx_token_file, state_dir

REPO_ROOT = PROJECT_ROOT

__all__ = ["REPO_ROOT", "cache_dir", "influx_token_file", "logs_dir", "state_dir"]


def logs_dir() -> Path:
    return state_dir() / "logs"


def influx_token_file() -> Path:
    """Where ``f1-stack up`` keeps the InfluxDB operator token it generated."""
    return local_influx_token_file()
