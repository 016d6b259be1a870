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

import logging
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from influxdb_client import InfluxDBClient
from influxdb_client.client.warnings import MissingPivotFunction
from influxdb_client.rest import ApiException

from runtime.errors import ConfigError, InfrastructureError
from schemas.channels import LAP_SUMMARY, TELEMETRY, channels, tag_names
from storage.layout import LAPS_MEASUREMENT, TELEMETRY_MEASUREMENT, TIME_FIELD

log = logging.getLogger(__name__)

# range() needs a stop; event times may be ahead of the wall clock (a simulation run faster
# than real time), so "everything" ends far in the future, past the contract's 2100 limit.
ALL_TIME = "start: 0, stop: 2200-01-01T00:00:00Z"
TAGS = tag_names(TELEMETRY)
EXPORT_FORMATS = (".csv", ".parquet")


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
        try:
            with warnings.catch_warnings():
                # The client suggests pivot() for every query; these are shaped on purpose.
                warnings.simplefilter("ignore", MissingPivotFunction)
                result = self._query.query_data_frame(flux)
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
        if isinstance(result, list):
            result = pd.concat(result, ignore_index=True) if result else pd.DataFrame()
        return result.drop(columns=["result", "table"], errors="ignore")

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
        last sample) and ``complete``: the car was seen both before and after this lap, so it
        is a whole lap (the first lap seen may have started before the car's first sample,
        the last may still be running)."""
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
        df["complete"] = (df["lap"] > lo) & (df["lap"] < hi)
        return df

    def lap_summaries(self, session: str, car: str | None = None) -> pd.DataFrame:
        """The stored lap summaries (measurement ``laps``) in the contract's field names."""
        df = self.frame(flux_lap_summaries(self.bucket, session, car))
        if df.empty:
            return df
        df[TIME_FIELD[LAP_SUMMARY]] = _to_us(df["_time"])
        names = [c.name for c in channels(LAP_SUMMARY)]
        return df[[n for n in names if n in df.columns]].reset_index(drop=True)

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
