"""The race section's lines about the race itself: the pit stop and the result.

Each against its band of ../shared/realism.md ("A race at Silverstone") where it has one
(:data:`producer.report.RACE_BANDS`):

* **pit loss** (:func:`pit_loss_s`): car 0 of the seed alone in a three-lap race, once with a
  stop at the end of lap 1 (a new set of the same compound) and once without; the time lost
  is the difference at the line at the end of the out-lap. Band 18 to 24 s;
* **stationary**: the time each stop of the race stood in the box (or the controlled stop's,
  when the session had none). Band 2 to 3.5 s;
* **finishing order and gaps** (:func:`producer.race.classification`): no band, a statement:
  the cars in the order they took the flag, each with its gap to the winner (``+1 LAP`` for
  a lapped car).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from circuit import Track
from producer.car import car_params_for
from producer.race import classification, pit_stops
from producer.report import LapFigures, RaceLine, info_line, race_line
from producer.session import SessionPlan
from producer.simulation import Simulation
from producer.strategy import Strategy

PIT_LOSS_LAPS = 3
PIT_LOSS_STATIONARY_S = 2.5
# Cars listed by name in the finishing-order line; the rest are counted (and listed, one row
# each, by format_classification).
ORDER_SHOWN = 3


def _line_times(batch: Mapping[str, np.ndarray]) -> np.ndarray:
    """Session time of each of a single car's line crossings (its first sample past it)."""
    laps = np.asarray(batch["lap"])
    return np.asarray(batch["sim_time_s"])[1:][np.diff(laps) == 1]


def pit_loss_s(
    track: Track,
    seed: int = 1,
    stationary_s: float = PIT_LOSS_STATIONARY_S,
    compound: str = "medium",
) -> float:
    """Time a stop costs against staying out: car 0 of ``seed``, alone, with and without a
    stop at the end of lap 1 (``stationary_s`` in the box, a new set of ``compound``), at the
    line at the end of the out-lap."""
    car = car_params_for(0, seed)
    session = SessionPlan(kind="race", laps=PIT_LOSS_LAPS, tyre=compound)
    ends = []
    for strategy in (
        Strategy((compound, compound), (1,), (stationary_s,)),
        Strategy((compound,)),
    ):
        sim = Simulation(track, 1, seed=seed, cars=[car], session=session, strategies=[strategy])
        ends.append(_line_times(sim.run_to_end())[1])
    return float(ends[0] - ends[1])


def result_text(batch: Mapping[str, np.ndarray]) -> str:
    """The finishing order with each car's gap to the winner, on one line."""
    result = classification(batch)
    if not result:
        return "no car took the flag"
    shown = [f"P{f.position} {f.car_id} {f.gap_text}" for f in result[:ORDER_SHOWN]]
    more = len(result) - ORDER_SHOWN
    return ", ".join(shown) + (f", {more} more" if more > 0 else "")


def race_lines(
    track: Track,
    seed: int,
    race: Mapping[str, np.ndarray] | None,
    laps: Sequence[LapFigures] = (),
) -> list[RaceLine]:
    """The pit loss, the stationary times and (for a race's records ``race``) the finishing
    order and gaps; with the race's ``laps``, the top speed of its laps in traffic (a tow
    and DRS, which the flying-lap envelope leaves out)."""
    loss = pit_loss_s(track, seed)
    stops: Sequence[float] = [s.stationary_s for s in pit_stops(race)] if race else []
    lines = [race_line("pit_loss_s", loss, digits=2)]
    if stops:
        lines.append(race_line("stationary_s", stops, digits=2))
    else:
        lines.append(race_line("stationary_s", PIT_LOSS_STATIONARY_S, digits=2))
    in_traffic = [
        lap.top_speed_kmh
        for lap in laps
        if lap.traffic and not (lap.standing_start or lap.pit_lane)
    ]
    if in_traffic:
        text = f"{max(in_traffic):.1f} km/h over {len(in_traffic)} laps"
        lines.append(info_line("top speed in traffic (tow, DRS)", text))
    if race is not None:
        lines.append(info_line("finishing order, gap to the winner", result_text(race)))
    else:
        lines.append(info_line("finishing order", "a race only (--session race)"))
    return lines


def format_classification(batch: Mapping[str, np.ndarray]) -> str:
    """The race's classification as a table: position, car, laps, time or gap, pit stops."""
    result = classification(batch)
    stops: dict[str, int] = {}
    for stop in pit_stops(batch):
        stops[stop.car_id] = stops.get(stop.car_id, 0) + 1
    rows = [["pos", "car", "laps", "time / gap", "stops"]]
    for f in result:
        time = f"{f.time_s:.3f} s" if f.position == 1 else f.gap_text
        rows.append([f"P{f.position}", f.car_id, str(f.laps), time, str(stops.get(f.car_id, 0))])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
