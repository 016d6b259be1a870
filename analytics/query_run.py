"""Which run of the streaming query a checkpoint folder holds: the key of the job's
exactly-once bookkeeping (its transactional producer and the group that records the
published micro-batches, :mod:`analytics.publish`).

A micro-batch id means something only within one checkpoint: a new checkpoint counts from 0
again. So the bookkeeping must not outlive the checkpoint, even when a new one is made at
the same path (a deleted folder, every Docker deployment's ``/data/checkpoint``): keyed by
the path, the new query's batches would be taken for the old one's and skipped. The key is
instead an id written into the checkpoint folder when it is created, and made anew whenever
Spark's own checkpoint is not there.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

from runtime.errors import ConfigError

RUN_ID_FILE = "f1-analytics-run"
PREFIX = "f1-analytics-"
# What Spark writes into a checkpoint folder when a query first starts there (the query's
# id); without it, whatever the folder holds is no query's progress.
SPARK_METADATA = "metadata"


def run_id(checkpoint: Path) -> str:
    """The id of the query run held in ``checkpoint`` (created if needed): the same for every
    start from that checkpoint, new for a new checkpoint."""
    path = checkpoint / RUN_ID_FILE
    try:
        checkpoint.mkdir(parents=True, exist_ok=True)
        started = (checkpoint / SPARK_METADATA).exists()
        kept = path.read_text(encoding="utf-8").strip() if path.exists() else None
        if started and kept is not None and kept.startswith(PREFIX):
            return kept
        # A checkpoint a job of before this file started (Spark's metadata without our id)
        # keeps the key it had, its path's digest, so its published batches are still known.
        old = started and kept is None
        made = f"{PREFIX}{_path_key(checkpoint) if old else uuid.uuid4().hex}"
        temporary = path.with_name(f".{RUN_ID_FILE}.{os.getpid()}")
        temporary.write_text(made + "\n", encoding="utf-8")
        os.replace(temporary, path)
        return made
    except OSError as exc:
        raise ConfigError(
            f"checkpoint folder {checkpoint}: cannot keep the query's run id: {exc.strerror}"
        ) from None


def _path_key(checkpoint: Path) -> str:
    return hashlib.sha256(str(checkpoint.resolve()).encode()).hexdigest()[:16]
