"""Reading the stored telemetry back: every Flux query of the platform lives here.

The sink writes measurement ``telemetry`` (one point per record, tags ``session_id``,
``car_id``, ``driver``; ``lap`` is an integer field) and measurement ``laps`` (one lap summary
per car per lap, stamped at the lap's end). A lap is therefore a contiguous time range of one
car's series: the queries find that range from the ``lap`` field, then read only inside it.

The ``flux_*`` functions build query text (pure, unit-tested); :class:`History` runs them and
returns pandas DataFrames with event times as integer microseconds (``timestamp``, as in the
Avro records), so an exported lap has exactly the shape of the records that were produced.
``f1-sink-influx history`` and the pit wall's lap comparison use :class:`History`.
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from influxdb_client import Dialect, InfluxDBClient
from influxdb_client.client.warnings import MissingPivotFunction
from influxdb_client.rest import ApiException

from circuit.lap_line import is_standing_start
from runtime.errors import ConfigError, InfrastructureError
from schemas.channels import LAP_SUMMARY, TELEMETRY, channels, tag_names
from storage.layout import LAPS_MEASUREMENT, TELEMETRY_MEASUREMENT, TIME_FIELD

log = logging.getLogger(__name__)

# range() needs a stop; event times may be ahead of the wall clock (a simulation run faster
# than real time), so "everything" ends far in the future, past the contract's 2100 limit.
ALL_TIME = "start: 0, stop: 2200-01-01T00:00:00Z"
TAGS = tag_names(TELEMETRY)
EXPORT_FORMATS = (".csv", ".parquet")
# InfluxDB's CSV without annotations: a header row per table schema, tables apart by an empty
# line. Parsed by pandas' C reader it is several times faster than the client's DataFrame
# reader, which matters for queries of every field of every record (a replay, an export).
PLAIN_CSV = Dialect(header=True, annotations=[])


def flux_string(value: str) -> str:
    """A Flux string literal."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("${", "\\${")
    return f'"{escaped}"'


def _time(us: int) -> str:
    return f"time(v: {int(us) * 1000})"


def _source(bucket: str, measurement: str, session: str, car: str | None, span: str) -> str:
    car_test = f" and r.car_id == {flux_string(car)}" if car is not None else ""
    return (
        f"from(bucket: {flux_string(bucket)})\n"
        f"  |> range({span})\n"
        f"  |> filter(fn: (r) => r._measurement == {flux_string(measurement)}"
        f" and r.session_id == {flux_string(session)}{car_test})\n"
    )


def flux_sessions(bucket: str) -> str:
    return (
        'import "influxdata/influxdb/schema"\n'
        f"schema.measurementTagValues(bucket: {flux_string(bucket)}, "
        f'measurement: "{TELEMETRY_MEASUREMENT}", tag: "session_id", {ALL_TIME})\n'
    )


def flux_cars(bucket: str, session: str) -> str:
    # One field is enough to see every series; "lap" is in every telemetry point.
    return (
        _source(bucket, TELEMETRY_MEASUREMENT, session, None, ALL_TIME)
        + '  |> filter(fn: (r) => r._field == "lap")\n'
        + "  |> first()\n"
        + '  |> keep(columns: ["car_id", "driver"])\n'
        + "  |> group()\n"
    )


def flux_laps(bucket: str, session: str, car: str | None = None, lap: int | None = None) -> str:
    """Per car and lap: first and last sample time and the number of samples."""
    lap_test = f" and r._value == {int(lap)}" if lap is not None else ""
    return (
        _source(bucket, TELEMETRY_MEASUREMENT, session, car, ALL_TIME)
        + f'  |> filter(fn: (r) => r._field == "lap"{lap_test})\n'
        + '  |> group(columns: ["car_id", "driver", "_value"])\n'
        + "  |> reduce(\n"
        + "      identity: {samples: 0, first: 2200-01-01T00:00:00Z, last: 1970-01-01T00:00:00Z},\n"
        + "      fn: (r, accumulator) => ({\n"
        + "        samples: accumulator.samples + 1,\n"
        + "        first: if r._time < accumulator.first then r._time else accumulator.first,\n"
        + "        last: if r._time > accumulator.last then r._time else accumulator.last,\n"
        + "      }),\n"
        + "  )\n"
        + "  |> group()\n"
    )


def flux_lap_points(
    bucket: str,
    session: str,
    car: str,
    lap: int,
    first_us: int,
    last_us: int,
    fields: Sequence[str] | None = None,
) -> str:
    """Every point of one lap (the fields given, or all), one row per sample."""
    span = f"start: {_time(first_us)}, stop: {_time(last_us + 1)}"
    text = _source(bucket, TELEMETRY_MEASUREMENT, session, car, span)
    if fields is not None:
        wanted = sorted({*fields, "lap"})
        test = " or ".join(f"r._field == {flux_string(f)}" for f in wanted)
        text += f"  |> filter(fn: (r) => {test})\n"
    return text + (
        '  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")\n'
        f"  |> filter(fn: (r) => r.lap == {int(lap)})\n"
        "  |> group()\n"
        '  |> sort(columns: ["_time"])\n'
    )


def flux_session_points(
    bucket: str, session: str, start_us: int | None = None, stop_us: int | None = None
) -> str:
    """Every telemetry point of a session (every car, every field) with an event time in
    ``start_us`` .. ``stop_us`` (exclusive; None: from the first, to the last), one row per
    record, in time order and by car within a time."""
    if start_us is None and stop_us is None:
        span = ALL_TIME
    else:
        start = _time(start_us) if start_us is not None else "0"
        stop = _time(stop_us) if stop_us is not None else "2200-01-01T00:00:00Z"
        span = f"start: {start}, stop: {stop}"
    return _source(bucket, TELEMETRY_MEASUREMENT, session, None, span) + (
        '  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")\n'
        "  |> group()\n"
        '  |> sort(columns: ["_time", "car_id"])\n'
    )


def flux_series_edge(
    bucket: str, session: str, edge: str, from_lap: int | None = None, field: str = "lap"
) -> str:
    """Per car, its ``edge`` ("first" or "last") record's time and ``field`` (the lap), with
    ``from_lap`` only among the records of that lap or later. InfluxDB answers it from each
    series' ends, without reading the session."""
    lap_test = f" and r._value >= {int(from_lap)}" if from_lap is not None else ""
    return (
        _source(bucket, TELEMETRY_MEASUREMENT, session, None, ALL_TIME)
        + f'  |> filter(fn: (r) => r._field == "{field}"{lap_test})\n'
        + f"  |> {'first' if edge == 'first' else 'last'}()\n"
        + '  |> keep(columns: ["car_id", "_time", "_value"])\n'
        + "  |> group()\n"
    )


def read_plain_csv(data: bytes, text_columns: Iterable[str] = ()) -> pd.DataFrame:
    """The tables of an answer in :data:`PLAIN_CSV` as one frame (without the annotation
    columns). ``text_columns`` stay text (ids such as ``007`` or a driver called NAN); empty
    cells are NaN; doubles read back exactly as InfluxDB wrote them."""
    text = dict.fromkeys(text_columns, str)
    frames = [
        pd.read_csv(
            io.BytesIO(block),
            dtype=text,
            keep_default_na=False,
            na_values=[""],
            float_precision="round_trip",
        )
        for block in data.replace(b"\r\n", b"\n").split(b"\n\n")
        if block.strip()
    ]
    if not frames:
        return pd.DataFrame()
    df = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    unnamed = [c for c in df.columns if str(c).startswith("Unnamed:")]
    return df.drop(columns=["result", "table", *unnamed], errors="ignore")


def telemetry_records(df: pd.DataFrame) -> pd.DataFrame:
    """Telemetry points of :data:`PLAIN_CSV` (``_time`` as RFC 3339 text, fields as columns)
    as records: ``timestamp`` in integer microseconds, the channel table's columns in the
    record's order (those present)."""
    names = [c.name for c in channels(TELEMETRY)]
    if df.empty:
        return pd.DataFrame(columns=names)
    # InfluxDB writes as many digits of the second's fraction as the time needs (none on a
    # whole second), so no one format fits every row.
    times = pd.to_datetime(df["_time"], utc=True, format="ISO8601")
    df = df.assign(**{TIME_FIELD[TELEMETRY]: _to_us(times)})
    return df[[n for n in names if n in df.columns]].reset_index(drop=True)


def flux_lap_summaries(bucket: str, session: str, car: str | None = None) -> str:
    return (
        _source(bucket, LAPS_MEASUREMENT, session, car, ALL_TIME)
        + '  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")\n'
        + "  |> group()\n"
        + '  |> sort(columns: ["car_id", "lap"])\n'
    )


def _to_us(column: pd.Series) -> pd.Series:
    epoch = pd.Timestamp(0, tz="UTC")
    return ((pd.to_datetime(column, utc=True) - epoch) // pd.Timedelta(microseconds=1)).astype(
        "int64"
    )


@dataclass(frozen=True)
class LapRef:
    session: str
    car: str
    lap: int


class History:
    """Queries over the sink's bucket. Errors: InfrastructureError when InfluxDB does not
    answer, ConfigError when the token or bucket is wrong."""

    def __init__(self, url: str, token: str, org: str, bucket: str) -> None:
        self.url = url
        self.bucket = bucket
        self._client = InfluxDBClient(url=url, token=token, org=org, timeout=60_000)
        self._query = self._client.query_api()

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def frame(self, flux: str) -> pd.DataFrame:
        """Run ``flux``; one DataFrame without the annotation columns (empty if no rows)."""
        log.debug("flux:\n%s", flux)
        with self._answering(), warnings.catch_warnings():
            # The client suggests pivot() for every query; these are shaped on purpose.
            warnings.simplefilter("ignore", MissingPivotFunction)
            result = self._query.query_data_frame(flux)
        if isinstance(result, list):
            result = pd.concat(result, ignore_index=True) if result else pd.DataFrame()
        return result.drop(columns=["result", "table"], errors="ignore")

    def csv_frame(self, flux: str, text_columns: Iterable[str] = ()) -> pd.DataFrame:
        """Like :meth:`frame`, through :data:`PLAIN_CSV` (:func:`read_plain_csv`): faster for
        wide answers, with types inferred from the text (``_time`` stays RFC 3339 text)."""
        log.debug("flux:\n%s", flux)
        with self._answering():
            data = self._query.query_raw(flux, dialect=PLAIN_CSV).data
        return read_plain_csv(data, text_columns)

    @contextmanager
    def _answering(self) -> Iterator[None]:
        """The client's errors as the platform's: InfluxDB unreachable or failing is an
        InfrastructureError, a wrong token or bucket a ConfigError."""
        try:
            yield
        except ApiException as exc:
            if exc.status in (401, 403, 404):
                raise ConfigError(f"InfluxDB at {self.url}: {exc.status} {exc.reason}") from exc
            raise InfrastructureError(f"InfluxDB at {self.url}: {exc.status} {exc.reason}") from exc
        except OSError as exc:
            raise InfrastructureError(f"InfluxDB at {self.url} is unreachable: {exc}") from exc
        except Exception as exc:  # urllib3 wraps refusals in its own types
            if type(exc).__module__.startswith("urllib3"):
                raise InfrastructureError(f"InfluxDB at {self.url} is unreachable: {exc}") from exc
            raise

    # --- listing ------------------------------------------------------------------------------

    def sessions(self) -> list[str]:
        df = self.frame(flux_sessions(self.bucket))
        return sorted(df["_value"].tolist()) if not df.empty else []

    def cars(self, session: str) -> pd.DataFrame:
        df = self.frame(flux_cars(self.bucket, session))
        if df.empty:
            return pd.DataFrame(columns=["car_id", "driver"])
        return df[["car_id", "driver"]].sort_values("car_id").reset_index(drop=True)

    def laps(self, session: str, car: str | None = None, lap: int | None = None) -> pd.DataFrame:
        """Per car and lap: ``first_us``, ``last_us``, ``samples``, ``duration_s`` (first to
        last sample) and ``complete``: the car was seen after this lap, and before it or on
        the grid, so it is a whole lap (the first lap seen may have started before the car's
        first sample, unless that sample is a standing start, from which lap 1 is timed; the
        last may still be running). The same definition of a lap as the analytics job's."""
        columns = ["car_id", "driver", "lap", "first_us", "last_us", "samples", "duration_s"]
        df = self.frame(flux_laps(self.bucket, session, car, lap))
        if df.empty:
            return pd.DataFrame(columns=[*columns, "complete"])
        df = df.rename(columns={"_value": "lap"})
        df["first_us"] = _to_us(df["first"])
        df["last_us"] = _to_us(df["last"])
        df["duration_s"] = (df["last_us"] - df["first_us"]) / 1e6
        df = df[columns].sort_values(["car_id", "lap"]).reset_index(drop=True)
        bounds = df.groupby("car_id")["lap"].agg(["min", "max"])
        lo = df["car_id"].map(bounds["min"])
        hi = df["car_id"].map(bounds["max"])
        from_grid = df["car_id"].map(self._standing_starts(session)).fillna(False).astype(bool)
        df["complete"] = ((df["lap"] > lo) | ((df["lap"] == lo) & from_grid)) & (df["lap"] < hi)
        return df

    def _standing_starts(self, session: str) -> dict[str, bool]:
        """Per car: whether its first record is a standing start (on a race grid)."""
        firsts = self.frame(flux_series_edge(self.bucket, session, "first"))
        distances = self.frame(
            flux_series_edge(self.bucket, session, "first", field="lap_distance_m")
        )
        if firsts.empty or distances.empty:
            return {}
        lap = dict(zip(firsts["car_id"], firsts["_value"], strict=True))
        return {
            car: car in lap and is_standing_start(int(lap[car]), float(distance))
            for car, distance in zip(distances["car_id"], distances["_value"], strict=True)
        }

    def lap_summaries(self, session: str, car: str | None = None) -> pd.DataFrame:
        """The stored lap summaries (measurement ``laps``) in the contract's field names."""
        df = self.frame(flux_lap_summaries(self.bucket, session, car))
        if df.empty:
            return df
        df[TIME_FIELD[LAP_SUMMARY]] = _to_us(df["_time"])
        names = [c.name for c in channels(LAP_SUMMARY)]
        return df[[n for n in names if n in df.columns]].reset_index(drop=True)

    # --- a whole session -------------------------------------------------------------------

    def session_span(self, session: str, from_lap: int | None = None) -> pd.DataFrame:
        """Per car (``car_id``): ``first_us`` and ``first_lap``, its first record (with
        ``from_lap``: its first of that lap or later; a car that never got there is left
        out), and ``last_us`` and ``last_lap``, its last record. Empty when the session has
        no records (there). Cheap, however long the session: read from the series' ends."""
        columns = ["car_id", "first_us", "first_lap", "last_us", "last_lap"]
        firsts = self.frame(flux_series_edge(self.bucket, session, "first", from_lap))
        if firsts.empty:
            return pd.DataFrame(columns=columns)
        lasts = self.frame(flux_series_edge(self.bucket, session, "last"))
        ends = {"first": firsts, "last": lasts}
        for edge, df in ends.items():
            df[f"{edge}_us"] = _to_us(df["_time"])
            ends[edge] = df.rename(columns={"_value": f"{edge}_lap"})
        span = ends["first"].merge(ends["last"], on="car_id")[columns]
        return span.sort_values("car_id").reset_index(drop=True)

    def session_records(
        self, session: str, start_us: int | None = None, stop_us: int | None = None
    ) -> pd.DataFrame:
        """The records of a session as they were produced: every car, every field stored,
        event times from ``start_us`` up to ``stop_us`` (exclusive; None: the whole session),
        sorted by time, then car. Columns are the telemetry channels in the record's order
        (read from the channel table, so a channel added to the contract is read too); a
        channel the session's records did not have (an older writer) is absent, and a
        channel only some records had is NaN in the others. Reading a long session a window
        at a time (``start_us``, ``stop_us``) keeps the memory of one window."""
        text = [c.name for c in channels(TELEMETRY) if c.avro_type == "string"]
        flux = flux_session_points(self.bucket, session, start_us, stop_us)
        return telemetry_records(self.csv_frame(flux, text))

    # --- one lap ------------------------------------------------------------------------------

    def lap_points(
        self, session: str, car: str, lap: int, fields: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """Every sample of one lap, sorted by time, columns in the telemetry record's order
        (``fields`` given: only those, plus ``timestamp`` and ``lap``)."""
        window = self.laps(session, car, lap)
        if window.empty:
            raise ConfigError(f"no lap {lap} of car {car} in session {session}")
        row = window.iloc[0]
        flux = flux_lap_points(
            self.bucket, session, car, lap, int(row["first_us"]), int(row["last_us"]), fields
        )
        df = self.frame(flux)
        names = [c.name for c in channels(TELEMETRY)]
        if fields is not None:
            keep = {"timestamp", "lap", *fields}
            names = [n for n in names if n in keep]
        if df.empty:
            return pd.DataFrame(columns=names)
        df[TIME_FIELD[TELEMETRY]] = _to_us(df["_time"])
        return df[[n for n in names if n in df.columns]].reset_index(drop=True)

    def channel_vs_distance(
        self, session: str, car: str, lap: int, channel: str = "speed_kmh"
    ) -> pd.DataFrame:
        """``lap_distance_m`` and one channel for lap N, in distance order: the trace to
        overlay when comparing laps."""
        df = self.lap_points(session, car, lap, ["lap_distance_m", channel])
        return df[["lap_distance_m", channel]].sort_values("lap_distance_m").reset_index(drop=True)

    def best_lap(self, session: str, car: str) -> pd.Series | None:
        """The fastest complete lap of a car: by the stored lap summary's ``lap_time_s`` when
        there are summaries, else by the duration of its samples. None without a complete lap."""
        summaries = self.lap_summaries(session, car)
        if not summaries.empty:
            # pandas-stubs types idxmin() as any Hashable, which no overload of .loc takes;
            # it is a label of this frame's own index.
            best = summaries.loc[summaries["lap_time_s"].idxmin()]  # type: ignore[call-overload]
            return pd.Series({"car_id": car, "lap": int(best["lap"]), "time_s": best["lap_time_s"]})
        laps = self.laps(session, car)
        complete = laps[laps["complete"]]
        if complete.empty:
            return None
        best = complete.loc[complete["duration_s"].idxmin()]  # type: ignore[call-overload]  # as above
        return pd.Series({"car_id": car, "lap": int(best["lap"]), "time_s": best["duration_s"]})

    def export(self, refs: Iterable[LapRef], out: Path) -> int:
        """Write the laps to ``out`` (.csv or .parquet, by suffix); the number of rows."""
        if out.suffix not in EXPORT_FORMATS:
            raise ConfigError(f"export to .csv or .parquet, got {out}")
        frames = [self.lap_points(r.session, r.car, r.lap) for r in refs]
        df = pd.concat(frames, ignore_index=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix == ".csv":
            df.to_csv(out, index=False)
        else:
            df.to_parquet(out, index=False)
        return len(df)

    # --- the state a session ended in -------------------------------------------------------

    def last_records(self, session: str, n: int = 2) -> pd.DataFrame:
        """The last ``n`` records (1 or 2) of every car of a session: the state each car ended
        in and, with ``n`` 2, the sample before it (a line crossing between the two is
        interpolated as the live timing does), sorted by time, then car; columns as
        :meth:`lap_points`. Answered from the ends of the series, without reading the session,
        however long it is."""
        rows = [_latest_per_car(self.frame(flux_last_points(self.bucket, session)))]
        if n > 1 and not rows[0].empty:
            for car, t in zip(rows[0]["car_id"], rows[0]["timestamp"], strict=True):
                before = flux_last_points(self.bucket, session, str(car), before_us=int(t))
                rows.append(_latest_per_car(self.frame(before)))
        names = [c.name for c in channels(TELEMETRY)]
        found = [r for r in rows if not r.empty]
        if not found:
            return pd.DataFrame(columns=names)
        df = pd.concat(found, ignore_index=True).sort_values(["timestamp", "car_id"])
        return df[[c for c in names if c in df.columns]].reset_index(drop=True)


def flux_last_points(
    bucket: str, session: str, car: str | None = None, before_us: int | None = None
) -> str:
    """The last point of every series of a session (or of one car), or the last one before
    ``before_us``, pivoted to records: ``last()`` is answered from each series' end."""
    span = ALL_TIME if before_us is None else f"start: 0, stop: {_time(before_us)}"
    return _source(bucket, TELEMETRY_MEASUREMENT, session, car, span) + (
        "  |> last()\n"
        '  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")\n'
        "  |> group()\n"
    )


def _latest_per_car(df: pd.DataFrame) -> pd.DataFrame:
    """Each car's row at its latest time: its last record. A field that record left out (a
    nullable channel not measured) has its own, older, row after the pivot; it is dropped."""
    if df.empty:
        return df
    df[TIME_FIELD[TELEMETRY]] = _to_us(df["_time"])
    latest = df.groupby("car_id")[TIME_FIELD[TELEMETRY]].transform("max")
    return df[df[TIME_FIELD[TELEMETRY]] == latest].reset_index(drop=True)
