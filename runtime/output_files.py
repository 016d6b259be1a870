"""Records to files: ``.csv`` (a header row, one column per field) or ``.jsonl`` (one JSON
object per line), the ``--output`` of every command that makes telemetry.

A writer takes columnar batches (field name -> array, one element per record) or records
(dicts), and writes the fields it was given, in that order. ``flush`` returns the number of
rows that could not be written (always 0: a write error raises), so a writer stands in for
the Kafka output. The same records give the same bytes, run after run.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from runtime.errors import ConfigError

logger = logging.getLogger(__name__)

FORMATS = ("csv", "jsonl")


def format_for(path: str | Path) -> str:
    """The output format implied by a file name (``.csv`` or ``.jsonl``)."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise ConfigError(f"{path}: unknown output format {suffix!r}, use .csv or .jsonl")
    return suffix


def column_records(batch: Mapping[str, Any], fields: Sequence[str]) -> list[dict[str, Any]]:
    """Rows of a columnar batch as dicts of plain Python values (str, int, float, bool)."""
    columns = [
        batch[name].tolist() if hasattr(batch[name], "tolist") else list(batch[name])
        for name in fields
    ]
    return [dict(zip(fields, row, strict=True)) for row in zip(*columns, strict=True)]


class RecordFileWriter:
    """Writes records with ``fields`` to a new ``.csv`` or ``.jsonl`` file (opened on
    construction); a context manager that closes on exit."""

    def __init__(self, path: str | Path, fields: Sequence[str]) -> None:
        self.path = Path(path)
        self.fields = tuple(fields)
        self.format = format_for(self.path)
        self.rows_written = 0
        try:
            self._file: IO[str] | None = self.path.open("w", encoding="utf-8", newline="")
        except OSError as exc:
            raise ConfigError(f"{self.path}: cannot open for writing ({exc})") from exc
        self._csv: Any = None
        if self.format == "csv":
            self._csv = csv.writer(self._file)
            self._csv.writerow(self.fields)

    def __enter__(self) -> RecordFileWriter:
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

    def write(self, batch: Mapping[str, Any]) -> None:
        """Write one columnar batch."""
        self.write_records(column_records(batch, self.fields))

    write_batch = write

    def write_records(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Write records (dicts with at least the writer's fields)."""
        if self._file is None:
            raise RuntimeError(f"{self.path}: writer is closed")
        fields = self.fields
        rows: list[list[Any]] | list[str]  # cells per row (csv), or one JSON text per row
        if self.format == "csv":
            rows = [[r[name] for name in fields] for r in records]
            self._csv.writerows(rows)
        else:
            rows = [json.dumps({name: r[name] for name in fields}) for r in records]
            if rows:
                self._file.write("\n".join(rows) + "\n")
        self.rows_written += len(rows)
