"""UDP ingest throughput: what one ``f1-ingest-udp`` process sustains with no loss.

Usage: python benchmarks/bench_udp.py [--seconds 3] [--multiples 50 100 200]

A sender process replays a 22-car F1 25 session (the fixture frame of
tests/fixtures/game_udp/, with new frame ids and session times per frame: Motion, Lap Data,
Car Status, Car Damage, Participants and Car Telemetry each frame, a Session packet every 30
frames) to a loopback UDP port at N times a 60 Hz game (60 frames/s = 1,320 car-samples/s),
for a few seconds each. The receiving process runs the command's own path: the receive
thread (:class:`ingest.receiver.UdpReceiver`, the command's socket buffer), the decoder and
joiner (:class:`ingest.session.GameIngest`) and the Avro column encoder of the telemetry
schema (``Serializer.encode_columns``, range checks on); only the hand-over to librdkafka is
left out (``bench_producer.py`` measures that). A multiple passes when every datagram sent was
received and every record encoded, and the process kept up (its backlog drained within a
second of the sender's end). The target: at least 50 times a 60 Hz session.

Then, in the same run, the ingest's decode (``GameIngest.feed`` and ``take``, no socket)
against a plain unpack of the same bytes (``struct`` for the header, one numpy
``frombuffer`` per packet for its car entries, each field the ingest reads taken once): the
ratio says what the joining, the flashback checks and the record columns cost on top of
reading the bytes.
"""

from __future__ import annotations

import argparse
import multiprocessing
import socket
import struct
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from figures import figure, machine

from ingest.layouts import CAR_TELEMETRY, LAYOUTS, PARTICIPANTS, SESSION
from ingest.receiver import UdpReceiver, bind
from ingest.recording import read_recording
from ingest.session import GameIngest
from schemas.serde import Serializer
from schemas.topics import TELEMETRY_SCHEMA_FILE

FIXTURE = Path(__file__).resolve().parents[1] / "tests/fixtures/game_udp/f1_2025.f1rec"
GAME_HZ = 60
CARS = 22
SAMPLES_PER_S = GAME_HZ * CARS  # 1,320
TARGET_MULTIPLE = 50
SOCKET_BUFFER = 8 * 2**20  # the command's default


def frame_templates() -> tuple[list[bytes], bytes]:
    """One frame's datagrams (Participants included) and the Session packet."""
    items = [d for _, d in read_recording(FIXTURE)]
    session = next(d for d in items if d[6] == SESSION)
    # The fixture's last frame: Motion, Lap Data, Car Status, Car Damage, Participants, Car
    # Telemetry, in the game's order.
    last = [d for d in items if d[6] == CAR_TELEMETRY][-1]
    end = items.index(last) + 1
    start = end - 6
    return items[start:end], session


def session_datagrams(frames: int, first_frame: int = 0) -> list[bytes]:
    """``frames`` frames of a session, each with its own frame ids and session time."""
    template, session = frame_templates()
    out: list[bytes] = []
    pack = struct.Struct("<fII").pack
    without_participants = [d for d in template if d[6] != PARTICIPANTS]
    for f in range(first_frame, first_frame + frames):
        header = pack(1.0 + f / GAME_HZ, 10 + f, 10 + f)
        # As the game: Session twice a second, Participants every five seconds.
        packets = ([session] if f % 30 == 0 else []) + (
            template if f % 300 == 0 else without_participants
        )
        out += [d[:15] + header + d[27:] for d in packets]
    return out


def _sender(address: tuple[str, int], multiple: float, seconds: float, first: int, queue) -> None:
    frames_per_s = GAME_HZ * multiple
    frames = int(frames_per_s * seconds)
    datagrams = session_datagrams(frames, first)
    # Where each frame starts in ``datagrams``: at its Motion packet (or its Session packet).
    starts = [i for i, d in enumerate(datagrams) if d[6] == 0]
    bounds = [s - (1 if s and datagrams[s - 1][6] == SESSION else 0) for s in starts]
    bounds.append(len(datagrams))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    send = sock.sendto
    started = time.perf_counter()
    chunk = max(1, int(frames_per_s / 1000))  # about a millisecond of frames per burst
    for f in range(0, frames, chunk):
        due = started + f / frames_per_s
        wait = due - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        for data in datagrams[bounds[f] : bounds[min(f + chunk, frames)]]:
            send(data, address)
    queue.put((len(datagrams), frames, time.perf_counter() - started))
    sock.close()


def run_multiple(multiple: float, seconds: float, serializer: Serializer, first: int) -> dict:
    """Send a session at ``multiple`` times a 60 Hz game and ingest it; the counts."""
    receiver = UdpReceiver(bind("127.0.0.1", 0, SOCKET_BUFFER)).start()
    ingest = GameIngest()
    results: multiprocessing.Queue = multiprocessing.Queue()
    sender = multiprocessing.Process(
        target=_sender, args=(receiver.address, multiple, seconds, first, results)
    )
    queue = receiver.queue
    encoded = 0
    processed = 0
    started = time.perf_counter()
    sender.start()
    sent = None
    sender_done_at = None
    while True:
        if queue:
            n = 0
            while queue and n < 2048:
                arrival, data = queue.popleft()
                ingest.feed(data, arrival)
                n += 1
            processed += n
            batch = ingest.take()
            if batch is not None:
                encoded += len(serializer.encode_columns(batch))
        else:
            time.sleep(0.001)
        if sent is None and not results.empty():
            sent = results.get()
            sender_done_at = time.perf_counter()
        if sent is not None and processed >= sent[0]:
            break
        if sender_done_at is not None and time.perf_counter() - sender_done_at > 1.0:
            break  # not drained within a second of the sender's end: lost or behind
    elapsed = time.perf_counter() - started
    sender.join()
    receiver.stop()
    assert sent is not None
    datagrams, frames, send_s = sent
    return {
        "multiple": multiple,
        "sent": datagrams,
        "received": receiver.received,
        "processed": processed,
        "records": encoded,
        "expected_records": frames * CARS,
        "send_s": send_s,
        "elapsed_s": elapsed,
        "lost": datagrams - receiver.received,
    }


def plain_unpack(datagrams: list[bytes]) -> int:
    """The baseline: the header with struct, each packet's car entries with one numpy
    frombuffer, and each field the ingest reads touched once."""
    header = struct.Struct("<HBBBBBQfIIBB").unpack_from
    layout = LAYOUTS[2025]
    per_id = {
        0: (layout.motion, ("world_position", "g_force_lateral", "g_force_longitudinal")),
        2: (layout.lap_data, ("current_lap_num", "lap_distance", "total_distance", "sector",
                              "pit_status", "num_pit_stops", "result_status")),
        7: (layout.status, ("fuel_in_tank", "visual_tyre_compound", "tyres_age_laps",
                            "ers_store_energy", "ers_deploy_mode")),
        10: (layout.damage, ("tyres_wear",)),
        6: (layout.telemetry, ("speed", "throttle", "steer", "brake", "gear", "engine_rpm",
                               "drs", "brakes_temperature", "tyres_surface_temperature",
                               "tyres_inner_temperature", "engine_temperature",
                               "tyres_pressure")),
    }  # fmt: skip
    total = 0
    for data in datagrams:
        fields = header(data)
        entry = per_id.get(fields[5])
        if entry is None:
            continue
        cars = np.frombuffer(data, entry[0].car, entry[0].cars, entry[0].cars_offset)
        for name in entry[1]:
            total += cars[name].size
    return total


def decode_ratio(frames: int = 3000) -> tuple[float, float, float]:
    """Datagrams/s of the ingest's decode (feed + take) and of the plain unpack, best of 3."""
    datagrams = session_datagrams(frames)
    ingest_best = plain_best = 0.0
    for _ in range(3):
        ingest = GameIngest()
        started = time.perf_counter()
        for i, data in enumerate(datagrams):
            ingest.feed(data, 1_750_000_000_000_000 + i)
            if i % 2048 == 2047:
                ingest.take()
        ingest.take()
        ingest_best = max(ingest_best, len(datagrams) / (time.perf_counter() - started))
        started = time.perf_counter()
        plain_unpack(datagrams)
        plain_best = max(plain_best, len(datagrams) / (time.perf_counter() - started))
    return ingest_best, plain_best, ingest_best / plain_best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per multiple (3)")
    parser.add_argument(
        "--multiples", type=float, nargs="+", default=[50, 100, 200, 400],
        help="multiples of a 60 Hz 22-car session to send (50 100 200 400)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    print(f"machine: {machine()}")
    print(f"command: python benchmarks/bench_udp.py {' '.join(argv or sys.argv[1:])}")
    serializer = Serializer(1, TELEMETRY_SCHEMA_FILE)
    serializer.prepare_columns()
    warm = session_datagrams(200)
    ingest = GameIngest()
    for i, data in enumerate(warm):
        ingest.feed(data, i)
    batch = ingest.take()
    assert batch is not None
    serializer.encode_columns(batch)  # compiled kernels loaded before timing

    best_ok: dict | None = None
    first = 0
    for multiple in args.multiples:
        r = run_multiple(multiple, args.seconds, serializer, first)
        first += int(GAME_HZ * multiple * args.seconds) + 1
        ok = r["lost"] == 0 and r["records"] == r["expected_records"]
        print(
            f"{multiple:g}x a 60 Hz session: sent {r['sent']:,} datagrams in {r['send_s']:.2f} s"
            f" ({r['sent'] / r['send_s']:,.0f}/s), received {r['received']:,}, lost "
            f"{r['lost']:,}; records {r['records']:,} of {r['expected_records']:,} "
            f"({r['records'] / r['elapsed_s']:,.0f}/s over {r['elapsed_s']:.2f} s, the last "
            f"{r['elapsed_s'] - r['send_s']:.2f} s after the sender's end): "
            f"{'no loss' if ok else 'LOSS'}",
            flush=True,
        )
        if ok:
            best_ok = r
        else:
            break
    if best_ok is None:
        figure("UDP ingest, highest multiple of a 60 Hz 22-car session with no loss", "none",
               f">= {TARGET_MULTIPLE}x (66,000 car-samples/s)", False)  # fmt: skip
    else:
        records_s = best_ok["expected_records"] / best_ok["send_s"]
        packets_s = best_ok["sent"] / best_ok["send_s"]
        figure(
            "UDP ingest, highest multiple of a 60 Hz 22-car session with no loss (loopback "
            "sender process, decode + join + Avro encode)",
            f"{best_ok['multiple']:g}x: {packets_s:,.0f} packets/s, {records_s:,.0f} records/s"
            f" sent; all ingested {best_ok['elapsed_s'] - best_ok['send_s']:.2f} s after the "
            f"sender's end (tried {', '.join(f'{m:g}x' for m in args.multiples)})",
            f">= {TARGET_MULTIPLE}x ({TARGET_MULTIPLE * SAMPLES_PER_S:,} records/s)",
            best_ok["multiple"] >= TARGET_MULTIPLE,
        )
    ingest_s, plain_s, ratio = decode_ratio()
    print(f"decode alone: ingest {ingest_s:,.0f} datagrams/s, plain unpack {plain_s:,.0f}/s")
    figure(
        "UDP ingest decode (feed + take) vs a plain struct/numpy unpack of the same bytes, "
        "same run",
        f"ratio {ratio:.2f} ({ingest_s:,.0f} vs {plain_s:,.0f} datagrams/s)",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
