"""Write telemetry to files: ``.csv`` (one column per telemetry field) or ``.jsonl``.

Both writers take either records (dicts with the telemetry field names) or columnar batches
(dict of field name -> array, as returned by :meth:`producer.simulation.Simulation.step`),
so a simulation can be streamed to disk batch by batch without building records first. The
writing itself is :class:`runtime.output_files.RecordFileWriter`, shared with the game ingest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from producer.simulation import TELEMETRY_FIELDS, Batch
from runtime.output_files import FORMATS, RecordFileWriter, format_for

__all__ = [
    "FORMATS",
    "TelemetryFileWriter",
    "format_for",
    "open_writer",
    "write_batches",
    "write_records",
]


class TelemetryFileWriter(RecordFileWriter):
    """Writes the simulator's telemetry fields to a new ``.csv`` or ``.jsonl`` file."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path, TELEMETRY_FIELDS)

    def __enter__(self) -> TelemetryFileWriter:
        return self


def open_writer(path: str | Path) -> TelemetryFileWriter:
    """A writer for ``path``; the format comes from the suffix (.csv or .jsonl)."""
    return TelemetryFileWriter(path)


def write_records(path: str | Path, records: Iterable[Mapping[str, Any]]) -> int:
    """Write records to ``path`` (format from the suffix); returns the number of rows."""
    with TelemetryFileWriter(path) as writer:
        writer.write_records(records)
        return writer.rows_written


def write_batches(path: str | Path, batches: Iterable[Batch]) -> int:
    """Write columnar batches to ``path`` (format from the suffix); returns the rows written."""
    with TelemetryFileWriter(path) as writer:
        for batch in batches:
            writer.write_batch(batch)
        return writer.rows_written
