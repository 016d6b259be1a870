"""Write telemetry to files: ``.csv`` (one column per telemetry field) or ``.jsonl``.

Both writers take either records (dicts with the telemetry field names) or columnar batches
(dict of field name -> array, as returned by :meth:`producer.simulation.Simulation.step`),
so a simulation can be streamed to disk batch by batch without building records first.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

from producer.simulation import TELEMETRY_FIELDS, Batch, to_records
from runtime.errors import ConfigError

logger = logging.getLogger(__name__)

FORMATS = ("csv", "jsonl")


def format_for(path: str | Path) -> str:
    """The output format implied by a file name (``.csv`` or ``.jsonl``)."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise ConfigError(f"{path}: unknown output format {suffix!r}, use .csv or .jsonl")
    return suffix


class TelemetryFileWriter:
    """Writes telemetry to a new ``.csv`` or ``.jsonl`` file (opened on construction).

    Usable as a context manager (closes on exit). ``write`` takes a columnar batch and
    ``flush`` returns the number of rows that could not be written (always 0: a write error
    raises), so the writer can stand in for the Kafka output.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.format = format_for(self.path)
        self.rows_written = 0
        try:
            self._file: IO[str] | None = self.path.open("w", encoding="utf-8", newline="")
        except OSError as exc:
            raise ConfigError(f"{self.path}: cannot open for writing ({exc})") from exc
        self._csv: Any = None
        if self.format == "csv":
            self._csv = csv.writer(self._file)
            self._csv.writerow(TELEMETRY_FIELDS)

    def __enter__(self) -> TelemetryFileWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def flush(self) -> int:
        if self._file is not None:
            self._file.flush()
        return 0

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
            logger.info("wrote %d rows to %s", self.rows_written, self.path)

    def write(self, batch: Batch) -> None:
        """Write one columnar batch (one row per car)."""
        self.write_records(to_records(batch))

    write_batch = write

    def write_records(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Write records (dicts with the telemetry field names)."""
        if self._file is None:
            raise RuntimeError(f"{self.path}: writer is closed")
        rows: list[list[Any]] | list[str]  # cells per row (csv), or one JSON text per row
        if self.format == "csv":
            rows = [[r[name] for name in TELEMETRY_FIELDS] for r in records]
            self._csv.writerows(rows)
        else:
            rows = [json.dumps({name: r[name] for name in TELEMETRY_FIELDS}) for r in records]
            if rows:
                self._file.write("\n".join(rows) + "\n")
        self.rows_written += len(rows)


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
