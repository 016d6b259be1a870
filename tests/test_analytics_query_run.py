"""The key of the analytics job's exactly-once bookkeeping: the query run a checkpoint holds,
not the checkpoint's path."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from analytics.query_run import RUN_ID_FILE, SPARK_METADATA, run_id
from runtime.errors import ConfigError


def _spark_starts(checkpoint: Path) -> None:
    """What Spark writes when a query first starts in the folder."""
    (checkpoint / SPARK_METADATA).write_text('{"id":"0b1d"}\n')


def test_every_start_from_one_checkpoint_has_the_same_id(tmp_path: Path) -> None:
    checkpoint = tmp_path / "ck"
    first = run_id(checkpoint)
    _spark_starts(checkpoint)
    assert first.startswith("f1-analytics-")
    assert run_id(checkpoint) == run_id(tmp_path / "ck" / ".." / "ck") == first


def test_a_new_checkpoint_at_the_same_path_is_a_new_run(tmp_path: Path) -> None:
    """A deleted and recreated folder (or a new Docker volume at /data/checkpoint): its
    micro-batches count from 0 again, so they must not be taken for the old run's."""
    checkpoint = tmp_path / "ck"
    old = run_id(checkpoint)
    _spark_starts(checkpoint)
    shutil.rmtree(checkpoint)
    new = run_id(checkpoint)
    assert new != old
    _spark_starts(checkpoint)
    assert run_id(checkpoint) == new


def test_an_id_left_without_spark_s_checkpoint_is_not_reused(tmp_path: Path) -> None:
    """Spark's files deleted but not ours, or a job stopped before its query started: no
    batch of that id was published, and the query that starts now counts from 0."""
    checkpoint = tmp_path / "ck"
    old = run_id(checkpoint)
    assert (checkpoint / RUN_ID_FILE).exists()
    assert run_id(checkpoint) != old


def test_a_checkpoint_of_an_older_job_keeps_the_key_it_had(tmp_path: Path) -> None:
    """Started by a job that keyed its bookkeeping by the path: the same key, so the batches
    it published are still known."""
    checkpoint = tmp_path / "ck"
    checkpoint.mkdir()
    _spark_starts(checkpoint)
    digest = hashlib.sha256(str(checkpoint.resolve()).encode()).hexdigest()[:16]
    assert run_id(checkpoint) == f"f1-analytics-{digest}"
    assert (checkpoint / RUN_ID_FILE).read_text().strip() == f"f1-analytics-{digest}"


def test_a_checkpoint_folder_that_cannot_be_written_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError, match="cannot keep the query's run id"):
        run_id(blocker / "ck")
