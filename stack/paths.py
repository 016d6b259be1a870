"""Where the local stack keeps downloads (cache) and running state (data, logs, pids).

The cache holds what is expensive to get again (jars, the registry archive, the
influxd build) and lives outside the repo so a fresh clone reuses it. The state
folder holds what a running stack writes; it is git-ignored and disposable.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def cache_dir() -> Path:
    """``F1_CACHE_DIR``, default ``~/.cache/f1-telemetry``."""
    value = os.environ.get("F1_CACHE_DIR")
    return Path(value) if value else Path.home() / ".cache" / "f1-telemetry"


def state_dir() -> Path:
    """``F1_STATE_DIR``, default ``.state/`` in the repo."""
    value = os.environ.get("F1_STATE_DIR")
    return Path(value) if value else REPO_ROOT / ".state"


def logs_dir() -> Path:
    return state_dir() / "logs"


def influx_token_file() -> Path:
    """Where ``f1-stack up`` keeps the InfluxDB operator token it generated."""
    return state_dir() / "influxdb" / "token"
