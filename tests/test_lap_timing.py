"""One lap, one time: the simulator's lap log, its realism report, the analytics job and the
pit wall time the same laps the same way (circuit.lap_line), here on a circuit from a file."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.laps import INPUT_COLUMNS, INPUT_DTYPES, advance
from circuit import load_track_csv
from dashboard.model import GridModel
from producer.cli import LapWatch
from producer.report import lap_report
from producer.simulation import Simulation, to_records
from tests.analytics_reference import expected_summaries, with_defaults
from tests.circuit_samples import write_oval_csv

HZ = 50
CARS = 3


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    track = load_track_csv(write_oval_csv(tmp_path_factory.mktemp("circuit") / "oval.csv"))
    return Simulation(track, CARS, hz=HZ, seed=8, session_id="timing").run(70 * HZ)


def _flying(laps: dict[tuple[str, int], float]) -> dict[tuple[str, int], float]:
    """Laps 2 and later: lap 1 started before some services saw the car (a rolling start)."""
    return {key: t for key, t in laps.items() if key[1] >= 2}


def test_every_service_times_the_same_laps_alike(batch: dict[str, np.ndarray]) -> None:
    watch = LapWatch(CARS)
    simulator = {}
    for t in range(0, len(batch["lap"]) // CARS, 37):  # blocks of any size
        block = {k: v[t * CARS : (t + 37) * CARS] for k, v in batch.items()}
        for car, lap, lap_time in watch.update(block):
            if lap_time is not None:
                simulator[(car, lap)] = lap_time
    report = {(lap.car_id, lap.lap): lap.lap_time_s for lap in lap_report(batch)}

    frame = pd.DataFrame(batch)
    analytics = {}
    for car, g in with_defaults(frame).rename(columns={"timestamp": "ts_us"}).groupby("car_id"):
        columns = {n: g[n].to_numpy(dtype=INPUT_DTYPES.get(n, float)) for n in INPUT_COLUMNS}
        _, done = advance("timing", str(car), None, columns)
        analytics.update({(s["car_id"], s["lap"]): s["lap_time_s"] for s in done})
    reference = {(c, lap): s["lap_time_s"] for (_, c, lap), s in expected_summaries(frame).items()}

    model = GridModel(step_m=10.0)
    model.ingest(to_records(batch))
    pit_wall = {
        (car.car_id, done.lap): done.time_s for car in model.cars.values() for done in car.completed
    }

    want = _flying(simulator)
    assert len(want) >= 2 * CARS  # two flying laps or more per car
    for name, got in (
        ("report", report),
        ("analytics", analytics),
        ("reference", reference),
        ("pit wall", pit_wall),
    ):
        got = _flying(got)
        assert sorted(got) == sorted(want), name
        for key, lap_time in want.items():
            # Analytics rounds the crossings to whole microseconds.
            assert got[key] == pytest.approx(lap_time, abs=2e-6), (name, key)
