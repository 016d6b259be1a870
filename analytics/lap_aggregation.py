"""The streaming DataFrame logic: decode telemetry, event time and watermark, lap state.

Kept apart from Kafka sinks and process handling so it can run on any streaming (or
static, for tests) DataFrame of Kafka rows with a binary ``value`` column.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.streaming.state import GroupState, GroupStateTimeout
from pyspark.sql.types import (
    BooleanType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
)

from analytics.confluent_columns import framed_column, from_avro_column, schema_id_column
from analytics.laps import INPUT_COLUMNS, INPUT_DTYPES, STATE_FIELDS, LapState, advance
from schemas.channels import channel
from schemas.topics import TELEMETRY_SCHEMA_FILE

log = logging.getLogger(__name__)

UNKNOWN_ID_ERROR = "f1-analytics: unknown writer schema id "

_SPARK_TYPES = {
    "str": StringType(),
    "int": LongType(),
    "float": DoubleType(),
    "bool": BooleanType(),
}
STATE_SCHEMA = StructType(
    [StructField(name, _SPARK_TYPES[kind], nullable=False) for name, kind in STATE_FIELDS]
)

SUMMARY_SCHEMA = StructType(
    [
        StructField("session_id", StringType(), False),
        StructField("car_id", StringType(), False),
        StructField("driver", StringType(), False),
        StructField("lap", IntegerType(), False),
        StructField("lap_time_s", DoubleType(), False),
        StructField("sector1_s", DoubleType(), False),
        StructField("sector2_s", DoubleType(), False),
        StructField("sector3_s", DoubleType(), False),
        # Microseconds since the epoch, as the Avro timestamp-micros fields carry them.
        StructField("lap_start", LongType(), False),
        StructField("lap_end", LongType(), False),
        StructField("avg_speed_kmh", DoubleType(), False),
        StructField("max_speed_kmh", DoubleType(), False),
        StructField("min_speed_kmh", DoubleType(), False),
        StructField("full_throttle_share", DoubleType(), False),
        StructField("brake_share", DoubleType(), False),
        StructField("fuel_used_kg", DoubleType(), False),
        StructField("max_abs_g_lat", DoubleType(), False),
        StructField("max_g_long", DoubleType(), False),
        StructField("min_g_long", DoubleType(), False),
        StructField("sample_count", LongType(), False),
        StructField("tyre_compound", StringType(), False),
        StructField("tyre_age_laps", IntegerType(), False),
        StructField("in_lap", BooleanType(), False),
        StructField("out_lap", BooleanType(), False),
        StructField("standing_start", BooleanType(), False),
        StructField("pit_stop_s", DoubleType(), False),
    ]
)
SUMMARY_FIELDS = tuple(f.name for f in SUMMARY_SCHEMA.fields)

# Channels checked against the channel table before aggregation: a record outside its range
# or pattern breaks the contract (the sink sends it to the DLQ); here it is left out and
# counted. A record of an older writer schema has the reader's defaults in the fields it
# lacks, which pass.
_CHECKED = tuple(c for c in INPUT_COLUMNS if c not in ("driver", "ts_us"))


def _in_range(name: str) -> Column:
    ch = channel(name)
    if ch.pattern is not None:
        return F.col(name).rlike(ch.pattern)
    return F.col(name).between(F.lit(ch.minimum), F.lit(ch.maximum))


def decode(
    raw: DataFrame,
    writer_schemas: Mapping[int, str | Mapping[str, Any]],
    checked: Mapping[int, int] | None = None,
) -> DataFrame:
    """Kafka rows -> telemetry rows, plus ``valid`` (false: not aggregated).

    Each record is decoded with the writer schema its header names and resolved to the
    telemetry schema this code reads. A framed record whose id is not among
    ``writer_schemas`` stops the batch with :data:`UNKNOWN_ID_ERROR` and the id, before
    anything is committed, unless its offset is below ``checked`` (partition -> offset): such
    a record was written before the job last read the subject's versions, so its id is no
    version of it and the record is poison (decoded to nulls, not valid). Otherwise the job
    reads the versions again (a new one is decoded from then on) and runs the batch again.
    """
    sid = schema_id_column("value")
    written_before = F.lit(False)
    for partition, end in sorted((checked or {}).items()):
        here = (F.col("partition") == F.lit(partition)) & (F.col("offset") < F.lit(end))
        written_before = written_before | here
    unknown = framed_column("value") & ~sid.isin(sorted(writer_schemas)) & ~written_before
    decoded = from_avro_column(TELEMETRY_SCHEMA_FILE, writer_schemas, "value")
    checked_value = F.when(
        unknown, F.raise_error(F.concat(F.lit(UNKNOWN_ID_ERROR), sid))
    ).otherwise(decoded)
    rows = raw.select(checked_value.alias("t"), sid.alias("schema_id")).select("t.*", "schema_id")
    valid = F.lit(True)
    for name in _CHECKED:
        valid = valid & F.coalesce(_in_range(name), F.lit(False))
    for name in ("session_id", "car_id", "driver", "timestamp"):
        valid = valid & F.col(name).isNotNull()
    return rows.withColumn("valid", valid)


def lap_summaries(telemetry: DataFrame, *, watermark: str, car_timeout_ms: int) -> DataFrame:
    """Decoded telemetry -> one row per completed lap (``SUMMARY_SCHEMA``), append mode.

    Event time is the record's ``timestamp`` (timestamp-micros, which Spark reads as a
    TimestampType). State is one row per (session, car); a car not heard of for
    ``car_timeout_ms`` of event time beyond the watermark has its state removed.
    """
    columns = [c for c in INPUT_COLUMNS if c != "ts_us"]
    events = (
        telemetry.where("valid")
        .select(
            "session_id",
            "car_id",
            F.col("timestamp").alias("event_time"),
            F.unix_micros("timestamp").alias("ts_us"),
            *columns,
        )
        .withWatermark("event_time", watermark)
    )
    return events.groupBy("session_id", "car_id").applyInPandasWithState(
        _lap_function(car_timeout_ms),
        SUMMARY_SCHEMA,
        STATE_SCHEMA,
        "append",
        GroupStateTimeout.EventTimeTimeout,
    )


def _lap_function(
    car_timeout_ms: int,
) -> Callable[[tuple[Any, ...], Iterable[pd.DataFrame], GroupState], Iterator[pd.DataFrame]]:
    def on_car(
        key: tuple[Any, ...], chunks: Iterable[pd.DataFrame], state: GroupState
    ) -> Iterator[pd.DataFrame]:
        session_id, car_id = str(key[0]), str(key[1])
        if state.hasTimedOut:
            # The car fell silent (session over, car retired): its lap in progress can never
            # complete, so the state goes.
            old = LapState.from_tuple(state.get)
            log.info("%s %s: no data for a while, lap %d dropped", session_id, car_id, old.lap)
            state.remove()
            return
        frames = [f for f in chunks if len(f)]
        if not frames:
            return
        pdf = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        # Avro floats arrive as float32: widened exactly (float64) before any arithmetic.
        cols = {
            name: pdf[name].to_numpy(dtype=INPUT_DTYPES.get(name, np.float64))
            for name in INPUT_COLUMNS
        }
        current = LapState.from_tuple(state.get) if state.exists else None
        new_state, done = advance(session_id, car_id, current, cols)
        if new_state is not None:
            state.update(new_state.as_tuple())
            timeout = new_state.last_ts_us // 1000 + car_timeout_ms
            state.setTimeoutTimestamp(max(timeout, state.getCurrentWatermarkMs() + 1))
        if done:
            yield pd.DataFrame(done, columns=list(SUMMARY_FIELDS))

    return on_car
