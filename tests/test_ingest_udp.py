"""f1-ingest-udp over real UDP on loopback: every format, a flashback, bad datagrams,
recording then replaying, and the command's one-line failures."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from ingest import cli
from ingest.receiver import UdpReceiver, bind
from ingest.recording import RecordingError, RecordingWriter, read_recording
from ingest.session import GameIngest
from runtime.command import StopSignal
from tests.game_samples import FORMATS, datagrams, expected, recording_path


def _send(address: tuple[str, int], items) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
        for data in items:
            out.sendto(data, address)


def _wait_for(condition, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_full_frame_set_over_loopback_gives_one_record_per_car(fmt: int) -> None:
    fixture = datagrams(str(fmt))
    receiver = UdpReceiver(bind("127.0.0.1", 0, 4 * 2**20)).start()
    try:
        _send(receiver.address, [d for _, d in fixture])
        _wait_for(lambda: receiver.received == len(fixture))
    finally:
        receiver.stop()
    ingest = GameIngest()
    arrivals = []
    while receiver.queue:
        arrival, data = receiver.queue.popleft()
        arrivals.append(arrival)
        ingest.feed(data, arrival)
    batch = ingest.take()
    reference = GameIngest()
    for arrival, data in fixture:
        reference.feed(data, arrival)
    want = reference.take()
    assert batch is not None and want is not None
    n = expected(str(fmt))["n_cars"]
    assert len(batch["car_id"]) == n * len(expected(str(fmt))["frames"])
    # The last frame: one record per car, each with the values the packets carried.
    assert batch["car_id"][-n:].tolist() == [f"car-{k:02d}" for k in range(1, n + 1)]
    for name in want:
        if name != "timestamp":
            assert batch[name].tolist() == want[name].tolist(), name
    # Event time: the arrival of the session's first datagram plus the session time since.
    first_time = expected(str(fmt))["frames"][0]["session_time"]
    start = arrivals[0] - round(first_time * 1e6)
    assert (batch["timestamp"] == start + np.round(batch["sim_time_s"] * 1e6)).all()


def _error_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    """The command's own lines on stderr (log lines go there too)."""
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("f1-")]


def _exit_code(argv: list[str]) -> int:
    """The exit code of the command (bad flags and settings exit before the body runs)."""
    try:
        return cli.main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


def _settings(*argv: str) -> cli.Settings:
    return cli.Settings.from_args(cli.build_parser().parse_args(list(argv)))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_command(argv: list[str], items: list[bytes]) -> int:
    """Run the command's body on a thread, send ``items`` once it listens, then stop it."""
    stop = StopSignal()
    listening = threading.Event()
    address: list[tuple[str, int]] = []
    result: list[int] = []

    def on_listening(where: tuple[str, int]) -> None:
        address.append(where)
        listening.set()

    thread = threading.Thread(
        target=lambda: result.append(cli.serve(_settings(*argv), stop, on_listening))
    )
    thread.start()
    assert listening.wait(10)
    _send(address[0], items)
    stop.set()
    thread.join(20)
    assert result, "the command did not finish"
    return result[0]


def test_the_command_records_and_its_replay_gives_the_same_records(tmp_path: Path) -> None:
    port = str(_free_port())
    live = tmp_path / "live.jsonl"
    recording = tmp_path / "session.f1rec"
    fixture = [d for _, d in datagrams("2025_flashback")]
    argv = ["--port", port, "--output", str(live), "--record", str(recording)]
    assert _run_command(argv, fixture) == 0
    rows = [json.loads(line) for line in live.read_text().splitlines()]
    assert len(rows) == 22 * 11  # 15 frames sent, 4 replayed by the flashback dropped
    assert [d for _, d in read_recording(recording)] == fixture
    times = [r["timestamp"] for r in rows[::22]]
    assert times == sorted(times) and len(set(times)) == len(times)

    replayed = tmp_path / "replay.jsonl"
    assert cli.main(["--replay", str(recording), "--rate", "max", "--output", str(replayed)]) == 0
    assert replayed.read_bytes() == live.read_bytes()


def test_replay_output_is_byte_identical_run_to_run(tmp_path: Path) -> None:
    outputs = []
    for i, suffix in enumerate((".jsonl", ".jsonl", ".csv")):
        out = tmp_path / f"run{i}{suffix}"
        assert cli.main(["--replay", str(recording_path("2026")), "--rate", "max",
                         "--output", str(out)]) == 0  # fmt: skip
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    assert len(outputs[0].splitlines()) == 24 * 6
    assert outputs[2].splitlines()[0].decode().split(",")[:4] == [
        "session_id",
        "car_id",
        "driver",
        "timestamp",
    ]
    assert len(outputs[2].splitlines()) == 1 + 24 * 6


def test_replay_at_a_rate_keeps_the_recorded_pace(tmp_path: Path) -> None:
    # The fixture spans 5 frames at 60 Hz (83 ms of session); at 2x it takes about 42 ms.
    out = tmp_path / "paced.jsonl"
    started = time.monotonic()
    assert cli.main(["--replay", str(recording_path("2024")), "--rate", "2",
                     "--output", str(out)]) == 0  # fmt: skip
    assert time.monotonic() - started >= 0.04
    assert len(out.read_text().splitlines()) == 22 * 6


def test_bad_datagrams_over_udp_are_counted_logged_once_and_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fixture = [d for _, d in datagrams("2023")]
    garbage = [b"\xff" * 40, b"x", bytes(1500), fixture[0][:50], fixture[0][:50]]
    out = tmp_path / "out.jsonl"
    with caplog.at_level(logging.INFO, logger="ingest"):
        code = _run_command(["--port", str(_free_port()), "--output", str(out)], garbage + fixture)
    assert code == 0
    assert len(out.read_text().splitlines()) == 22 * 6
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert sum("garbage datagram" in w for w in warnings) == 1  # 3 of them, one line a minute
    assert sum("truncated datagram" in w for w in warnings) == 1
    progress = [r.getMessage() for r in caplog.records if "datagrams (" in r.getMessage()]
    assert "garbage 3" in progress[-1] and "truncated 2" in progress[-1]


def test_a_port_in_use_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        assert cli.main(["--port", str(port), "--output", "/tmp/never.jsonl"]) == 2
    assert _error_lines(capsys) == [
        f"f1-ingest-udp: UDP 127.0.0.1:{port} is already in use (another f1-ingest-udp or "
        "telemetry tool?): stop it or choose another --port"
    ]


def test_a_cut_recording_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    whole = recording_path("2025").read_bytes()
    cut = tmp_path / "cut.f1rec"
    cut.write_bytes(whole[: len(whole) // 2])
    out = tmp_path / "out.jsonl"
    assert cli.main(["--replay", str(cut), "--rate", "max", "--output", str(out)]) == 2
    (line,) = _error_lines(capsys)
    assert line.startswith(f"f1-ingest-udp: {cut}: the recording is cut short after ")
    assert out.exists()  # the records of the whole datagrams before the cut


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--replay", "x.f1rec", "--rate", "fast"], "--rate must be 'realtime', 'max' or a"),
        (["--rate", "2"], "--rate only applies to --replay"),
        (["--host", "0.0.0.0"], "--host 0.0.0.0 is not a loopback address"),
        (["--port", "70000"], "UDP port the game sends to (--port): must be between 1"),
        (["--replay", "/nonexistent.f1rec", "--output", "x.jsonl"], "no such recording"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _exit_code(argv) == 2
    (line,) = _error_lines(capsys)
    assert message in line


def test_not_a_recording_is_refused(tmp_path: Path) -> None:
    plain = tmp_path / "plain.f1rec"
    plain.write_bytes(b"hello")
    with pytest.raises(Exception, match="not a game UDP recording"):
        list(read_recording(plain))


def test_the_recording_format_round_trips_and_is_readable_when_cut_at_a_sync(
    tmp_path: Path,
) -> None:
    path = tmp_path / "r.f1rec"
    clock = iter(range(100)).__next__
    writer = RecordingWriter(path, clock=lambda: float(clock()))
    items = [(1_700_000_000_000_000 + i, bytes([i]) * (i + 1)) for i in range(5)]
    for arrival, data in items:
        writer.write(data, arrival)  # the clock moves 1 s a call: a sync point each
    # Never closed (the process killed): everything up to the last sync point reads back.
    read: list[tuple[int, bytes]] = []
    with pytest.raises(RecordingError, match="cut short after 5 whole datagram"):
        read.extend(read_recording(path))
    assert read == items
    writer.close()
    assert list(read_recording(path)) == items


def test_waiting_for_the_registry_says_so_and_stops_on_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = _settings("--bootstrap", "127.0.0.1:1", "--registry", "http://127.0.0.1:1")
    stop = threading.Event()
    stop.set()  # stopped during the first wait
    with caplog.at_level(logging.WARNING, logger="ingest"):
        assert cli.wait_for_kafka(settings, stop, retry_s=0.01) is None
    (line,) = [r.getMessage() for r in caplog.records]
    assert "unreachable" in line and "waiting for it, trying again every 0.01 s" in line
