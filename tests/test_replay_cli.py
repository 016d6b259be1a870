"""``f1-replay`` without infrastructure: file round trips (CSV, Parquet, JSON Lines), the
InfluxDB source over a fake history, the Kafka output over a fake producer and registry,
and bad input as one line and a non-zero exit."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import replay.cli as cli
from replay.columns import Batch, names, to_batch
from replay.files import open_writer
from replay.sources import FileSource, InfluxSource
from runtime.errors import ConfigError, InfrastructureError
from schemas.serde import Deserializer, load_schema
from schemas.topics import TELEMETRY_SCHEMA_FILE, Topics
from tests.fakes import FakeProducer, FakeRegistry
from tests.replay_samples import SESSION, START_US, TICK_US, session_frame


@pytest.fixture(autouse=True)
def no_log_to_closed_streams() -> Iterator[None]:
    """Each ``main`` points the log at the stderr pytest gave its test; these tests log before
    their own ``main`` (writing the stored file), which must not go to an earlier test's
    stream, closed by now."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    root.handlers[:] = [
        h for h in handlers if not getattr(getattr(h, "stream", None), "closed", False)
    ]
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _with_gaps(frame: pd.DataFrame) -> pd.DataFrame:
    """Some records without a nullable channel's value (a source that does not measure it)."""
    out = frame.copy()
    nullable = [c for c in out.columns if c.startswith("tyre_surface_temp")]
    if nullable:
        out[nullable] = out[nullable].astype(object)
        out.loc[out.index[::3], nullable] = None
    return out


def _write(path: Path, batch: Batch) -> None:
    writer = open_writer(path)
    writer.write(batch)
    assert writer.flush() == 0
    writer.close()


def _read(path: Path, session: str = SESSION, chunk_rows: int = 7) -> Batch:
    got = list(FileSource(path, chunk_rows=chunk_rows).batches(session, None))
    return {k: np.concatenate([b[k] for b in got]) for k in got[0]}


def _same(a: Batch, b: Batch) -> None:
    assert list(a) == list(b) == list(names())
    for name in a:
        left = [None if v is None else v for v in a[name].tolist()]
        right = [None if v is None else v for v in b[name].tolist()]
        assert left == right, name


# --- files --------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_a_session_reads_back_from_its_file_exactly(tmp_path: Path, suffix: str) -> None:
    batch = to_batch(_with_gaps(session_frame(40)), "sample")
    path = tmp_path / f"session{suffix}"
    _write(path, batch)
    got = _read(path)
    _same(got, batch)
    # Avro float channels are float32 again: the values the producer sent, bit for bit.
    assert got["speed_kmh"].dtype == np.float32
    assert FileSource(path).sessions() == [SESSION]
    laps = FileSource(path).laps(SESSION)
    assert laps is not None and (laps.first, laps.last) == (1, 2)


def test_a_file_of_several_sessions_gives_the_one_asked_for(tmp_path: Path) -> None:
    both = pd.concat([session_frame(20, "a-1"), session_frame(20, "b-2")], ignore_index=True)
    both = both.sort_values("timestamp", kind="stable")
    path = tmp_path / "two.csv"
    _write(path, to_batch(both, "sample"))
    assert FileSource(path).sessions() == ["a-1", "b-2"]
    got = _read(path, "b-2")
    assert set(got["session_id"]) == {"b-2"} and len(got["timestamp"]) == 40


def test_text_that_looks_like_something_else_stays_text(tmp_path: Path) -> None:
    frame = session_frame(4)
    frame["driver"] = "NAN"  # a driver code pandas would read as not-a-number
    frame["car_id"] = "007"
    path = tmp_path / "odd.csv"
    _write(path, to_batch(frame, "sample"))
    got = _read(path)
    assert set(got["driver"]) == {"NAN"} and set(got["car_id"]) == {"007"}


def test_the_simulators_csv_reads_as_a_session(tmp_path: Path) -> None:
    """A file with only some of the fields (an older writer) gets the schema's defaults."""
    frame = session_frame(10).drop(columns=["pit_stops", "car_status"])
    path = tmp_path / "old.csv"
    frame.to_csv(path, index=False)
    got = _read(path)
    defaults = {f["name"]: f.get("default") for f in load_schema(TELEMETRY_SCHEMA_FILE)["fields"]}
    assert set(got["pit_stops"].tolist()) == {defaults["pit_stops"]}
    assert set(got["car_status"].tolist()) == {defaults["car_status"]}


def test_a_file_out_of_time_order_is_refused(tmp_path: Path) -> None:
    frame = session_frame(30).iloc[::-1]
    path = tmp_path / "backwards.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(ConfigError, match="not in time order"):
        _read(path, chunk_rows=10)


def test_a_column_of_the_wrong_type_names_the_file_and_the_column(tmp_path: Path) -> None:
    frame = session_frame(3)
    frame["gear"] = "fourth"
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(ConfigError, match=r"bad\.csv: column 'gear'"):
        _read(path)


# --- InfluxDB, through a fake history -------------------------------------------------------


class FakeHistory:
    """What the source asks of ``storage.history.History``, over an in-memory session."""

    url = "http://influx.fake"
    bucket = "telemetry"

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.windows: list[tuple[int, int]] = []

    def sessions(self) -> list[str]:
        return sorted(set(self.frame["session_id"]))

    def session_span(self, session: str, from_lap: int | None = None) -> pd.DataFrame:
        mine = self.frame[self.frame["session_id"] == session]
        rows = []
        for car, records in mine.groupby("car_id"):
            first = records if from_lap is None else records[records["lap"] >= from_lap]
            if first.empty:
                continue
            rows.append(
                {
                    "car_id": car,
                    "first_us": int(first["timestamp"].iloc[0]),
                    "first_lap": int(first["lap"].iloc[0]),
                    "last_us": int(records["timestamp"].iloc[-1]),
                    "last_lap": int(records["lap"].iloc[-1]),
                }
            )
        return pd.DataFrame(
            rows, columns=["car_id", "first_us", "first_lap", "last_us", "last_lap"]
        )

    def session_records(self, session: str, start_us: int, stop_us: int) -> pd.DataFrame:
        self.windows.append((start_us, stop_us))
        f = self.frame
        # As InfluxDB answers: integers as floats next to a missing value, no nullable columns.
        out = f[(f["session_id"] == session) & (f["timestamp"] >= start_us)]
        out = out[out["timestamp"] < stop_us].drop(columns=["z_m"], errors="ignore")
        return out.astype({"gear": float})


def test_influxdb_is_read_a_window_at_a_time_from_the_lap_asked_for() -> None:
    history = FakeHistory(session_frame(160))
    source = InfluxSource(history, window_s=3.0)
    laps = source.laps(SESSION)
    assert laps is not None and (laps.first, laps.last) == (1, 4)
    got = list(source.batches(SESSION, from_lap=2))
    # car-02 is first into lap 2, at tick 30; windows of 3 s (30 ticks) up to the last record.
    assert history.windows[0][0] == START_US + 30 * TICK_US
    assert all(b - a == 3_000_000 for a, b in history.windows[:-1])
    assert history.windows[-1][1] == START_US + 159 * TICK_US + 1
    times = np.concatenate([b["timestamp"] for b in got])
    assert times[0] == START_US + 30 * TICK_US and times[-1] == START_US + 159 * TICK_US
    assert got[0]["gear"].dtype == np.int64
    if "z_m" in names():  # a nullable channel InfluxDB has no value of: not measured
        assert set(got[0]["z_m"].tolist()) == {None}
    assert source.laps("other") is None


def test_a_missing_or_unknown_session_lists_the_sessions(
    capsys: pytest.CaptureFixture[str],
) -> None:
    both = pd.concat([session_frame(5, "race-1"), session_frame(5, "race-2")])
    source = InfluxSource(FakeHistory(both), window_s=30)
    with pytest.raises(ConfigError, match="--session-id is needed: 2 session"):
        cli.pick_session(source, None)
    assert capsys.readouterr().out.split("\n")[1:3] == ["  race-1", "  race-2"]
    with pytest.raises(ConfigError, match="no session 'race-3' in bucket 'telemetry'"):
        cli.pick_session(source, "race-3")
    assert "race-2" in capsys.readouterr().out
    assert cli.pick_session(source, "race-2") == "race-2"


# --- the command ----------------------------------------------------------------------------


def _stored(tmp_path: Path, ticks: int = 160) -> Path:
    path = tmp_path / "stored.parquet"
    _write(path, to_batch(session_frame(ticks), "sample"))
    return path


def test_a_replay_to_a_file_has_a_new_session_and_times_from_now(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "replayed.jsonl"
    before_us = int(pd.Timestamp.now(tz="UTC").value // 1000)
    argv = ["--file", str(_stored(tmp_path)), "--rate", "max", "--output", str(out)]
    assert cli.main([*argv, "--from-lap", "2"]) == 0
    new_id = capsys.readouterr().out.strip()
    assert new_id.startswith(f"{SESSION}-replay-")
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["session_id"] for r in records} == {new_id}
    assert records[0]["timestamp"] >= before_us
    first = {
        c: min(r["timestamp"] for r in records if r["car_id"] == c) for c in ("car-01", "car-02")
    }
    # Each car from its own crossing into lap 2: car-02 at tick 30, car-01 at tick 50.
    assert first["car-01"] - first["car-02"] == 20 * TICK_US
    assert min(r["lap"] for r in records) == 2
    assert len(records) == 2 * 160 - 30 - 50


def test_export_then_replay_with_kept_time_gives_the_stored_records(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stored = _stored(tmp_path, 60)
    exported = tmp_path / "export.csv"
    assert cli.main(["--file", str(stored), "--export", str(exported)]) == 0
    again = tmp_path / "again.csv"
    argv = ["--file", str(exported), "--rate", "max", "--keep-time"]
    assert cli.main([*argv, "--new-session-id", SESSION, "--output", str(again)]) == 0
    assert capsys.readouterr().out.strip() == SESSION
    _same(_read(again), _read(stored))


class CountingProducer(FakeProducer):
    """The fake producer, with the queue length librdkafka's producer reports."""

    def __len__(self) -> int:
        return len(self.waiting)


def test_the_replay_goes_through_the_simulators_kafka_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import runtime.kafka
    import runtime.kafka_output
    import schemas.registry

    registry = FakeRegistry()
    topic = "replayed"
    registry.register(Topics(telemetry=topic).telemetry_subject, load_schema(TELEMETRY_SCHEMA_FILE))
    producer = CountingProducer()
    monkeypatch.setattr(runtime.kafka, "broker_topics", lambda *_a, **_k: {topic})
    monkeypatch.setattr(schemas.registry, "SchemaRegistry", lambda _url: registry)
    monkeypatch.setattr(runtime.kafka_output, "Producer", lambda _config: producer)
    argv = ["--file", str(_stored(tmp_path, 30)), "--rate", "max", "--telemetry-topic", topic]
    assert cli.main(argv) == 0
    new_id = capsys.readouterr().out.strip()
    assert len(producer.delivered) == 60
    decode = Deserializer(registry, load_schema(TELEMETRY_SCHEMA_FILE)).decode
    records = [(m["key"], decode(m["value"])) for m in producer.delivered]
    assert all(key == r["car_id"] for key, r in records)  # keyed by car
    assert {r["session_id"] for _k, r in records} == {new_id}
    assert [r["lap"] for _k, r in records[:2]] == [1, 1]


def test_a_stop_before_the_first_record_sends_nothing_and_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "stopped.csv"

    def stopped_replay(records: Any, output: Any, rate: Any, stop: Any, **kwargs: Any) -> Any:
        stop.set()
        return real_replay(records, output, rate, stop, **kwargs)

    real_replay = cli.replay
    monkeypatch.setattr(cli, "replay", stopped_replay)
    assert cli.main(["--file", str(_stored(tmp_path, 10)), "--output", str(out)]) == 0
    assert out.read_text().count("\n") == 1  # the header only, flushed and closed


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--rate", "fast"], "must be 'realtime', 'max' or a positive number"),
        (["--rate", "0"], "must be 'realtime', 'max' or a positive number"),
        (["--from-lap", "0"], "--from-lap must be 1 or more"),
        (["--from-lap", "9"], "--from-lap 9: session 'stored-1' has laps 1 to 4"),
        (["--session-id", "other"], "no session 'other' in"),
        (["--output", "out.parquet"], "--output must end in .csv or .jsonl"),
        (["--export", "out.jsonl"], "--export must end in .csv or .parquet"),
        (["--export", "out.csv", "--rate", "max"], "--export writes the session as stored"),
        (["--new-session-id", "has space"], "--new-session-id 'has space' does not match"),
        (["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    stored = _stored(tmp_path, 160)
    with pytest.raises(SystemExit) as exit_info:
        code = cli.main(["--file", str(stored), *argv])
        raise SystemExit(code)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("f1-replay: ") and message in err


@pytest.mark.parametrize(
    "content", [b"", b"not,a\nsession,file\n", b"\x00\x01garbage", b'{"half": '], ids=repr
)
@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_an_unreadable_file_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, suffix: str
) -> None:
    path = tmp_path / f"broken{suffix}"
    path.write_bytes(content)
    assert cli.main(["--file", str(path), "--output", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("f1-replay: ") and str(path) in err, err
    assert not (tmp_path / "o.csv").exists()


def test_a_missing_file_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["--file", str(tmp_path / "none.csv")]) == 2
    assert "No such file" in capsys.readouterr().err


class DownHistory:
    """A History whose InfluxDB does not answer."""

    def __init__(self, url: str, *_args: Any) -> None:
        self.url, self.bucket = url, "telemetry"

    def sessions(self) -> list[str]:
        raise InfrastructureError(f"InfluxDB at {self.url} is unreachable: connection refused")

    def close(self) -> None:
        pass


def test_influxdb_down_is_one_line_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import storage.history

    monkeypatch.setattr(storage.history, "History", DownHistory)
    assert cli.main(["--session-id", "s", "--influx-url", "http://127.0.0.1:9"]) == 1
    err = capsys.readouterr().err
    assert err == "f1-replay: InfluxDB at http://127.0.0.1:9 is unreachable: connection refused\n"


def test_the_registry_down_is_one_line_and_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import runtime.kafka
    import schemas.registry

    registry = FakeRegistry()
    registry.down = True
    monkeypatch.setattr(runtime.kafka, "broker_topics", lambda *_a, **_k: set())
    monkeypatch.setattr(schemas.registry, "SchemaRegistry", lambda _url: registry)
    assert cli.main(["--file", str(_stored(tmp_path, 10)), "--rate", "max"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "schema registry at http://registry.fake" in err


def test_help_names_the_env_var_behind_each_setting(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    for env in ("F1_REPLAY_RATE", "F1_REPLAY_WINDOW", "F1_KAFKA_BOOTSTRAP", "F1_INFLUX_BUCKET"):
        assert f"env {env}" in text
