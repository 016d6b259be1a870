"""Writing records to files: the ``--output`` of a replay and the ``--export`` of a session.

``.csv`` and ``.jsonl`` go through the platform's record writer
(:class:`runtime.output_files.RecordFileWriter`, the ``--output`` of ``f1-simulate`` and
``f1-ingest-udp``), with every field of the telemetry schema as a column. ``.parquet`` (for
``--export``) is written a batch at a time as a row group, typed from the channel table
(Avro ``float`` channels as float32, so the file holds exactly the values that were sent).
Each writer stands in for the Kafka output: ``write``, ``flush`` (0: nothing left
undelivered) and ``close``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from replay.columns import Batch, fields, names
from runtime.errors import ConfigError
from runtime.output_files import RecordFileWriter

log = logging.getLogger(__name__)

OUTPUT_FORMATS = (".csv", ".jsonl")
EXPORT_FORMATS = (".csv", ".parquet")


def check_suffix(path: Path, allowed: tuple[str, ...], flag: str) -> None:
    if path.suffix.lower() not in allowed:
        raise ConfigError(f"{flag} must end in {' or '.join(allowed)}, got {path}")


def _arrow_schema() -> Any:
    import pyarrow as pa

    types = {
        "string": pa.string(),
        "boolean": pa.bool_(),
        "int": pa.int64(),
        "long": pa.int64(),
        "float": pa.float32(),
        "double": pa.float64(),
    }
    return pa.schema([(c.name, types[c.avro_type]) for c in fields()])


class ParquetWriter:
    """Telemetry batches to a new Parquet file, one row group per batch."""

    def __init__(self, path: Path) -> None:
        try:
            import pyarrow.parquet as pq
        except ImportError as exc:  # an install without the sink's or replay's extra
            raise ConfigError(f"{path}: writing Parquet needs pyarrow ({exc})") from None
        self.path = path
        self.rows_written = 0
        self._schema = _arrow_schema()
        try:
            self._writer: Any = pq.ParquetWriter(path, self._schema)
        except OSError as exc:
            raise ConfigError(f"{path}: cannot open for writing ({exc})") from exc

    def write(self, batch: Batch) -> None:
        import pyarrow as pa

        table = pa.Table.from_pydict({n: batch[n] for n in names()}, schema=self._schema)
        self._writer.write_table(table)
        self.rows_written += table.num_rows

    def flush(self) -> int:
        return 0

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
            log.info("wrote %d rows to %s", self.rows_written, self.path)


def open_writer(path: Path) -> RecordFileWriter | ParquetWriter:
    """A writer for ``path``, the format from its suffix (.csv, .jsonl or .parquet)."""
    if path.suffix.lower() == ".parquet":
        return ParquetWriter(path)
    return RecordFileWriter(path, names())
