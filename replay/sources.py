"""Where a replayed session comes from: InfluxDB (what the sink stored) or a file.

Every source lists its sessions, tells the laps a session has, and gives a session's
records as typed batches (:func:`replay.columns.to_batch`) in time order, a window or a
chunk at a time, so a whole race never has to fit in memory:

* :class:`InfluxSource` reads through :class:`storage.history.History`, ``--window`` of
  event time per query (every car, every field, pivoted to one row per record);
* :class:`FileSource` reads a CSV, Parquet or JSON Lines file with the telemetry fields as
  columns: an export of ``f1-replay --export`` or ``f1-sink-influx history export``, or the
  ``--output`` of ``f1-simulate``, ``f1-ingest-udp`` and ``f1-replay``, in chunks of rows.
  Such files are written in time order; one that is not is refused when the disorder is
  met, since sorting would need the whole file in memory.

Problems are one line: an unknown session, a lap the session does not have, an unreadable
file are :class:`ConfigError` (exit 2); InfluxDB not answering is the History's
:class:`InfrastructureError` (exit 1).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from replay.columns import Batch, fields, take, to_batch
from runtime.errors import ConfigError

log = logging.getLogger(__name__)

FILE_FORMATS = (".csv", ".parquet", ".jsonl")
CHUNK_ROWS = 100_000


@dataclass(frozen=True)
class LapRange:
    """The lowest and highest lap number a session's records carry."""

    first: int
    last: int


class Source(Protocol):
    where: str  # for messages: the bucket and URL, or the file

    def sessions(self) -> list[str]: ...

    def laps(self, session: str) -> LapRange | None:
        """The session's laps; None when it has no records here."""
        ...

    def batches(self, session: str, from_lap: int | None) -> Iterator[Batch]:
        """The session's records in time order; ``from_lap`` lets a source skip what comes
        before that lap, and a source may not: the caller cuts each car at its lap."""
        ...


def check_lap(session: str, laps: LapRange | None, from_lap: int | None, where: str) -> None:
    """ConfigError unless ``session`` has records (``laps``) and, with ``from_lap``, reaches
    that lap."""
    if laps is None:
        raise ConfigError(f"session {session!r} has no telemetry in {where}")
    if from_lap is not None and from_lap > laps.last:
        raise ConfigError(
            f"--from-lap {from_lap}: session {session!r} has laps {laps.first} to {laps.last}"
        )


# --- InfluxDB -----------------------------------------------------------------------------


class InfluxSource:
    """A session the sink stored, read a window of event time at a time."""

    def __init__(self, history: Any, window_s: float) -> None:
        self.history = history  # a storage.history.History (imported by the caller)
        self.window_us = max(1, round(window_s * 1_000_000))
        self.where = f"bucket {history.bucket!r} at {history.url}"

    def sessions(self) -> list[str]:
        return list(self.history.sessions())

    def laps(self, session: str) -> LapRange | None:
        span = self.history.session_span(session)
        if span.empty:
            return None
        return LapRange(int(span["first_lap"].min()), int(span["last_lap"].max()))

    def batches(self, session: str, from_lap: int | None) -> Iterator[Batch]:
        # From the first record that can be replayed: the earliest of the cars' first
        # records of the lap (each car is cut at its own by the caller), to the last.
        span = self.history.session_span(session, from_lap)
        if span.empty:
            return
        start = int(span["first_us"].min())
        stop = int(self.history.session_span(session)["last_us"].max()) + 1
        where = f"session {session!r} in {self.where}"
        for window in range(start, stop, self.window_us):
            frame = self.history.session_records(
                session, window, min(window + self.window_us, stop)
            )
            if not frame.empty:
                yield to_batch(frame, where)


# --- files --------------------------------------------------------------------------------


def file_format(path: Path, allowed: Sequence[str] = FILE_FORMATS) -> str:
    suffix = path.suffix.lower()
    if suffix not in allowed:
        raise ConfigError(f"{path}: unknown format {suffix!r}, use {' or '.join(allowed)}")
    return suffix


class FileSource:
    """A session's records in a ``.csv``, ``.parquet`` or ``.jsonl`` file, in time order."""

    def __init__(self, path: Path, chunk_rows: int = CHUNK_ROWS) -> None:
        self.path = path
        self.format = file_format(path)
        self.chunk_rows = chunk_rows
        self.where = str(path)
        self._index: dict[str, LapRange] | None = None

    def _read(self, columns: Sequence[str] | None = None) -> Iterator[pd.DataFrame]:
        """The file in chunks of rows (only ``columns``, when given); ConfigError when it
        cannot be read, or lacks one of ``columns``."""
        try:
            yield from self._chunks(columns)
        except ConfigError:
            raise
        except (OSError, ValueError, KeyError, TypeError, ImportError) as exc:
            # pandas' and pyarrow's parse errors are ValueErrors; a missing column a KeyError.
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(f"{self.path}: cannot read it as {self.format}: {reason}") from exc

    def _chunks(self, columns: Sequence[str] | None) -> Iterator[pd.DataFrame]:
        if self.format == ".parquet":
            import pyarrow.parquet as pq

            parquet = pq.ParquetFile(self.path)
            missing = set(columns or ()) - set(parquet.schema_arrow.names)
            if missing:
                raise KeyError(f"no column {sorted(missing)[0]!r}")
            for part in parquet.iter_batches(batch_size=self.chunk_rows, columns=columns):
                yield part.to_pandas()
            return
        if self.format == ".csv":
            # Text stays text (a driver called NAN, a status "none"); doubles read back
            # exactly as written.
            text = {c.name: str for c in fields() if c.avro_type in ("string", "boolean")}
            reader: Any = pd.read_csv(
                self.path,
                chunksize=self.chunk_rows,
                usecols=list(columns) if columns is not None else None,
                dtype=text,
                keep_default_na=False,
                na_values=[""],
                float_precision="round_trip",
            )
        else:
            reader = pd.read_json(
                self.path,
                lines=True,
                chunksize=self.chunk_rows,
                dtype=False,
                convert_dates=False,
                keep_default_dates=False,
                precise_float=True,
            )
        with reader:
            for chunk in reader:
                if columns is not None:
                    missing = set(columns) - set(chunk.columns)
                    if missing:
                        raise KeyError(f"no column {sorted(missing)[0]!r}")
                    chunk = chunk[list(columns)]
                yield chunk

    def _scan(self) -> dict[str, LapRange]:
        """Session id -> its laps, from one pass over two columns."""
        if self._index is None:
            found: dict[str, LapRange] = {}
            for chunk in self._read(["session_id", "lap"]):
                laps = pd.to_numeric(chunk["lap"], errors="coerce")
                for session, group in laps.groupby(chunk["session_id"].astype(str)):
                    lo, hi = int(group.min()), int(group.max())
                    seen = found.get(str(session))
                    if seen is not None:
                        lo, hi = min(lo, seen.first), max(hi, seen.last)
                    found[str(session)] = LapRange(lo, hi)
            self._index = found
        return self._index

    def sessions(self) -> list[str]:
        return sorted(self._scan())

    def laps(self, session: str) -> LapRange | None:
        return self._scan().get(session)

    def batches(self, session: str, from_lap: int | None) -> Iterator[Batch]:
        last_us: int | None = None
        read = 0
        for chunk in self._read():
            start_row = read
            read += len(chunk)
            mine = chunk[chunk["session_id"].astype(str) == session]
            if mine.empty:
                continue
            batch = to_batch(mine, str(self.path))
            times = batch["timestamp"]
            order = np.argsort(times, kind="stable")
            if not np.array_equal(order, np.arange(len(order))):
                batch = take(batch, order)
                times = batch["timestamp"]
            if last_us is not None and int(times[0]) < last_us:
                raise ConfigError(
                    f"{self.path}: the records are not in time order (rows {start_row + 1:,} "
                    f"to {read:,} go back in time): sort the file by timestamp"
                )
            last_us = int(times[-1])
            yield batch
