"""Per-lap figures from telemetry, and the realism envelope they are judged against.

:func:`lap_report` accepts telemetry either as records (a sequence of dicts with the telemetry
field names) or as columnar arrays (a dict of field name -> array), for one car or many, and
returns one :class:`LapFigures` per *complete* lap: a lap whose start was seen crossing the
start/finish line and whose end is marked by the next lap's first sample.

Definitions (time shares are shares of samples, which are evenly spaced in time):

* full throttle: ``throttle >= FULL_THROTTLE`` (0.98);
* brake applied: ``brake > BRAKE_APPLIED`` (0.05);
* braking zone: a run of ``brake > 0.2`` lasting at least 0.3 s;
* peak lateral and braking g: maxima of the channel after a centred 0.1 s moving average,
  the way a logger's filtered channel reads (a single noisy sample does not set the peak);
  ``max_lat_g_sample`` is the raw maximum of ``|g_lat|``;
* rpm at full throttle above 2nd gear: range of ``rpm`` where full throttle and gear >= 3;
* lap time: between two line crossings (:mod:`circuit.lap_line`); a lap from a standing
  start begins at session time 0, when the car moves off the line.

The envelope (:data:`ENVELOPE`) is the acceptance envelope of a flying lap at Silverstone;
the realism test and the printed table use these same numbers.

The race section (:data:`RACE_BANDS`, the bands of "A race at Silverstone" in realism.md)
judges what a single flying lap cannot show, each from short controlled runs of car 0 of the
session's seed, alone on the track from a standing start, its flying laps timed:

* fuel effect (:func:`fuel_effect_s_per_kg`): lap-time change per kg of fuel, between two
  fuel loads on new mediums of the same age;
* new-tyre deltas (:func:`new_tyre_lap_times`): the flying lap on each compound with tyres
  that do not wear, the same fuel;
* degradation (:func:`degradation_s_per_lap`): the slope of the lap time over five flying laps
  of one set of each compound, the fuel held constant (none burnt);
* qualifying spread (:func:`qualifying_laps`): the flying lap of each of 20 cars of the
  seed, alone, low fuel, new mediums;
* gear changes on a flying lap: from the laps given (the report's run).

How a section is made: :func:`car_race_lines` gives the lines above (:func:`car_race_figures`
the figures behind them); a caller adds its own
with :func:`race_line` (a figure against a band of :data:`RACE_BANDS`, e.g. ``pit_loss_s``
and ``stationary_s``) and :func:`info_line` (a statement without a band, e.g. the finishing
order), and prints :func:`format_race_section` of them all::

    lines = car_race_lines(track, seed, laps)
    lines += [race_line("pit_loss_s", losses), info_line("finishing order", text)]
    print(format_race_section(lines))
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from circuit import Track
from circuit.lap_line import crossing_time
from producer.car import CarParams, car_params_for
from producer.session import SessionPlan
from producer.simulation import Simulation, concat_batches
from producer.tyres import COMPOUNDS
from schemas.channels import BRAKE_ON_MIN, FULL_THROTTLE_MIN

# The same definitions as the lap summaries' shares (one place: the channel table).
FULL_THROTTLE = FULL_THROTTLE_MIN
BRAKE_APPLIED = BRAKE_ON_MIN
BRAKE_ZONE_LEVEL = 0.2
BRAKE_ZONE_MIN_S = 0.3
PEAK_FILTER_S = 0.1
# Laps shown one column each in the printed table; a longer run is summed up (a range).
LAP_COLUMNS = 8


@dataclass(frozen=True)
class Limit:
    """An acceptance band for one figure (inclusive)."""

    low: float
    high: float
    label: str
    unit: str = ""

    def ok(self, value: float) -> bool:
        return self.low <= value <= self.high


# Acceptance envelope for a flying lap (laps after the first) at Silverstone.
ENVELOPE: dict[str, Limit] = {
    "lap_time_s": Limit(84.5, 90.0, "lap time", "s"),
    "top_speed_kmh": Limit(310.0, 330.0, "top speed", "km/h"),
    "min_speed_kmh": Limit(80.0, 100.0, "slowest point", "km/h"),
    "peak_lat_g": Limit(4.5, 6.0, "peak lateral", "g"),
    "max_lat_g_sample": Limit(0.0, 6.5, "max |lateral| sample", "g"),
    "mean_abs_lat_g": Limit(1.2, 2.5, "lap-average |lateral|", "g"),
    "peak_brake_g": Limit(4.0, 6.0, "peak braking", "g"),
    "braking_zones": Limit(6, 11, "braking zones", ""),
    "full_throttle_share": Limit(0.60, 0.72, "full throttle share", ""),
    "brake_share": Limit(0.08, 0.20, "brake applied share", ""),
    "fuel_used_kg": Limit(1.8, 2.4, "fuel used", "kg"),
    "n_gears_used": Limit(8, 8, "gears used", ""),
    "rpm_full_throttle_min": Limit(10_000.0, 12_500.0, "min rpm, full throttle, gear>=3", "rpm"),
    "rpm_full_throttle_max": Limit(10_000.0, 12_500.0, "max rpm, full throttle, gear>=3", "rpm"),
}


@dataclass(frozen=True)
class LapFigures:
    """Figures of one complete lap of one car."""

    car_id: str
    lap: int
    lap_time_s: float
    top_speed_kmh: float
    min_speed_kmh: float
    peak_lat_g: float
    max_lat_g_sample: float
    mean_abs_lat_g: float
    peak_brake_g: float
    braking_zones: int
    brake_time_s: float
    full_throttle_share: float
    brake_share: float
    fuel_used_kg: float
    gears_used: tuple[int, ...]
    n_gears_used: int
    gear_changes: int
    rpm_full_throttle_min: float
    rpm_full_throttle_max: float
    standing_start: bool = False  # the lap began from rest (not a flying lap)
    pit_lane: bool = False  # part of the lap was in the pit lane (an in-lap or an out-lap)
    traffic: bool = False  # the lap was driven close behind another car (see with_traffic)

    @property
    def flying(self) -> bool:
        """A lap the envelope judges: a car's own lap, neither from rest, nor through the pit
        lane, nor in another car's tow or dirty air (the envelope is a lap alone)."""
        return not (self.standing_start or self.pit_lane or self.traffic)

    def checks(self) -> dict[str, bool]:
        """Envelope item -> whether this lap is inside it."""
        return {name: limit.ok(float(getattr(self, name))) for name, limit in ENVELOPE.items()}

    def failures(self) -> list[str]:
        """Readable description of every envelope item this lap misses (empty when all pass)."""
        out = []
        for name, limit in ENVELOPE.items():
            value = float(getattr(self, name))
            if not limit.ok(value):
                out.append(f"{limit.label}: {value:g} not in [{limit.low:g}, {limit.high:g}]")
        return out

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_NEEDED = (
    "car_id",
    "sim_time_s",
    "lap",
    "lap_distance_m",
    "total_distance_m",
    "speed_kmh",
    "throttle",
    "brake",
    "gear",
    "rpm",
    "g_lat",
    "g_long",
    "fuel_kg",
)


# Read when present: telemetry v1 has no pit lane.
_OPTIONAL = ("pit_status",)


def _columns(data: Sequence[Mapping[str, Any]] | Mapping[str, Any]) -> dict[str, np.ndarray]:
    if isinstance(data, Mapping):
        names = [*_NEEDED, *(n for n in _OPTIONAL if n in data)]
        return {name: np.asarray(data[name]) for name in names}
    names = [*_NEEDED, *(n for n in _OPTIONAL if data and n in data[0])]
    return {name: np.asarray([r[name] for r in data]) for name in names}


def _moving_average(values: np.ndarray, window: int) -> np.ndarray:
    if window <= 1 or len(values) < window:
        return values
    kernel = np.ones(window) / window
    return np.convolve(values, kernel, mode="same")


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) index pairs of the True runs of a boolean array."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def lap_report(
    data: Sequence[Mapping[str, Any]] | Mapping[str, Any], car_id: str | None = None
) -> list[LapFigures]:
    """Figures of every complete lap in ``data`` (of ``car_id`` only, when given)."""
    cols = _columns(data)
    cars = cols["car_id"].astype(str)
    wanted = [car_id] if car_id is not None else list(dict.fromkeys(cars.tolist()))
    out: list[LapFigures] = []
    for car in wanted:
        sel = cars == car
        c = {name: arr[sel] for name, arr in cols.items()}
        order = np.argsort(c["sim_time_s"], kind="stable")
        c = {name: arr[order] for name, arr in c.items()}
        out.extend(_car_laps(car, c))
    return out


def _car_laps(car: str, c: dict[str, np.ndarray]) -> list[LapFigures]:
    t = c["sim_time_s"].astype(float)
    if len(t) < 3:
        return []
    dt = float(np.median(np.diff(t)))
    lap = c["lap"].astype(int)
    starts = np.flatnonzero(np.diff(lap) != 0) + 1  # first sample of each new lap
    laps: list[LapFigures] = []
    # A lap counts when its first sample is just past the line: either a crossing seen in
    # the data, or the very first sample of the data at the line (a start from rest).
    first = [0] if c["lap_distance_m"][0] < 1.0 else []
    bounds = first + starts.tolist()
    for a, b in itertools.pairwise(bounds):
        if lap[b] != lap[a] + 1:
            continue
        laps.append(_lap_figures(car, int(lap[a]), c, a, b, dt))
    return laps


def _crossing_time(c: dict[str, np.ndarray], i: int) -> float:
    """When the car crossed the line into the lap whose first sample is ``i``."""
    if i == 0:
        return 0.0  # a standing start: the lap began with the session, on the line
    t, total = c["sim_time_s"], c["total_distance_m"]
    return crossing_time(
        float(t[i - 1]),
        float(total[i - 1]),
        float(t[i]),
        float(total[i]),
        float(c["lap_distance_m"][i]),
    )


def _lap_figures(
    car: str, lap: int, c: dict[str, np.ndarray], a: int, b: int, dt: float
) -> LapFigures:
    sl = slice(a, b)
    speed = c["speed_kmh"][sl].astype(float)
    throttle = c["throttle"][sl].astype(float)
    brake = c["brake"][sl].astype(float)
    gear = c["gear"][sl].astype(int)
    rpm = c["rpm"][sl].astype(float)
    g_lat = c["g_lat"][sl].astype(float)
    g_long = c["g_long"][sl].astype(float)
    window = max(round(PEAK_FILTER_S / dt), 1)
    zones = [(s, e) for s, e in _runs(brake > BRAKE_ZONE_LEVEL) if (e - s) * dt >= BRAKE_ZONE_MIN_S]
    full = throttle >= FULL_THROTTLE
    ft_high = full & (gear >= 3)
    gears = tuple(sorted(int(g) for g in np.unique(gear) if g > 0))
    return LapFigures(
        car_id=car,
        lap=lap,
        lap_time_s=_crossing_time(c, b) - _crossing_time(c, a),
        top_speed_kmh=float(speed.max()),
        min_speed_kmh=float(speed.min()),
        peak_lat_g=float(_moving_average(np.abs(g_lat), window).max()),
        max_lat_g_sample=float(np.abs(g_lat).max()),
        mean_abs_lat_g=float(np.abs(g_lat).mean()),
        peak_brake_g=float(_moving_average(-g_long, window).max()),
        braking_zones=len(zones),
        brake_time_s=float((brake > BRAKE_APPLIED).sum() * dt),
        full_throttle_share=float(full.mean()),
        brake_share=float((brake > BRAKE_APPLIED).mean()),
        fuel_used_kg=float(c["fuel_kg"][a] - c["fuel_kg"][b]),
        gears_used=gears,
        n_gears_used=len(gears),
        gear_changes=int(np.count_nonzero(np.diff(gear))),
        rpm_full_throttle_min=float(rpm[ft_high].min()) if ft_high.any() else float("nan"),
        rpm_full_throttle_max=float(rpm[ft_high].max()) if ft_high.any() else float("nan"),
        standing_start=bool(speed[0] < 5.0),
        # A source without the pit channel (an older record) has no pit laps to flag.
        pit_lane=bool("pit_status" in c and np.any(c["pit_status"][sl].astype(str) != "none")),
    )


def _fmt(name: str, value: float) -> str:
    if name.endswith("_share"):
        return f"{100.0 * value:.1f} %"
    if name in ("braking_zones", "n_gears_used"):
        return f"{int(value)}"
    if name.startswith("rpm"):
        return f"{value:,.0f}"
    return f"{value:.2f}"


def with_traffic(laps: Sequence[LapFigures], traffic: set[tuple[str, int]]) -> list[LapFigures]:
    """``laps`` with the (car, lap) pairs of ``traffic`` marked as laps in traffic
    (:func:`producer.race.traffic_laps` finds them)."""
    return [replace(lap, traffic=(lap.car_id, lap.lap) in traffic) for lap in laps]


def _lap_label(lap: LapFigures) -> str:
    kind = (
        " (start)"
        if lap.standing_start
        else " (pit)"
        if lap.pit_lane
        else " (traffic)"
        if lap.traffic
        else ""
    )
    return f"{lap.car_id} lap {lap.lap}{kind}"


def format_report(laps: Sequence[LapFigures]) -> str:
    """A text table: one row per envelope item, the laps' values, the envelope, pass/fail.

    The pass column judges the flying laps only: a lap from a standing start, through the
    pit lane or in traffic is shown, marked "(start)", "(pit)" or "(traffic)", but the envelope
    does not apply to it. Up to :data:`LAP_COLUMNS` laps get a column each; a longer run (a
    race) is summed up as the range of its flying laps, the other laps counted below.
    """
    columns = len(laps) <= LAP_COLUMNS
    flying = [lap for lap in laps if lap.flying]
    heads = (
        [_lap_label(lap) for lap in laps] if columns else [f"{len(flying)} flying laps: min", "max"]
    )
    header = ["figure", *heads, "envelope", "pass"]
    rows = [header]
    for name, limit in ENVELOPE.items():
        label = f"{limit.label} ({limit.unit})" if limit.unit else limit.label
        band = f"{_fmt(name, limit.low)} .. {_fmt(name, limit.high)}"
        judged = [float(getattr(lap, name)) for lap in flying]
        ok = bool(judged) and all(limit.ok(v) for v in judged)
        shown = [float(getattr(lap, name)) for lap in laps] if columns else _range(judged)
        rows.append([label, *[_fmt(name, v) for v in shown], band, "PASS" if ok else "FAIL"])
    extra = [
        ("brake time (s)", [lap.brake_time_s for lap in laps], 1),
        ("gear changes", [float(lap.gear_changes) for lap in laps], 0),
    ]
    for label, values, digits in extra:
        if not columns:
            values = _range([v for v, lap in zip(values, laps, strict=True) if lap.flying])
        rows.append([label, *[f"{v:.{digits}f}" for v in values], "", ""])
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = []
    for n, r in enumerate(rows):
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    if not columns:
        kinds = {
            "from rest": sum(lap.standing_start for lap in laps),
            "through the pit lane": sum(lap.pit_lane and not lap.standing_start for lap in laps),
            "in traffic": sum(
                lap.traffic and not (lap.standing_start or lap.pit_lane) for lap in laps
            ),
        }
        counted = ", ".join(f"{n} {kind}" for kind, n in kinds.items() if n)
        if counted:
            lines.append(f"laps not judged: {counted}")
    return "\n".join(lines)


def _range(values: Sequence[float]) -> list[float]:
    return [min(values), max(values)] if values else [float("nan")] * 2


# ---------------------------------------------------------------------------- race section

# Acceptance bands of a race at Silverstone (../shared/realism.md, "A race at Silverstone").
RACE_BANDS: dict[str, Limit] = {
    "fuel_effect_s_per_kg": Limit(0.025, 0.040, "fuel effect, per kg", "s/kg"),
    "soft_to_medium_s": Limit(0.4, 0.8, "new soft faster than new medium by", "s"),
    "medium_to_hard_s": Limit(0.3, 0.6, "new medium faster than new hard by", "s"),
    "soft_to_hard_s": Limit(0.6, 1.6, "new soft faster than new hard by", "s"),
    "degradation_soft_s_per_lap": Limit(0.01, 0.08, "degradation, soft", "s/lap"),
    "degradation_medium_s_per_lap": Limit(0.01, 0.08, "degradation, medium", "s/lap"),
    "degradation_hard_s_per_lap": Limit(0.01, 0.08, "degradation, hard", "s/lap"),
    "qualifying_spread_s": Limit(1.5, 2.5, "qualifying spread P1 to P20", "s"),
    "gear_changes": Limit(43, 50, "gear changes, flying lap", ""),
    "pit_loss_s": Limit(18.0, 24.0, "pit stop, time lost", "s"),
    "stationary_s": Limit(2.0, 3.5, "pit stop, stationary", "s"),
}

# The controlled runs: fuel loads compared, the fuel of the tyre runs, qualifying fuel.
FUEL_LOADS_KG = (20.0, 100.0)
TYRE_RUN_FUEL_KG = 60.0
DEGRADATION_LAPS = 5
QUALIFYING_FUEL_KG = 10.0
QUALIFYING_CARS = 20


@dataclass(frozen=True)
class RaceLine:
    """One line of the race section: a figure and its band (judged), or a statement."""

    label: str
    value: str
    band: str = ""
    ok: bool | None = None  # None: not judged


def race_line(name: str, values: float | Sequence[float], digits: int = 3) -> RaceLine:
    """The line of :data:`RACE_BANDS` ``name`` for a value, or for several (every one must be
    in the band; shown as their range)."""
    limit = RACE_BANDS[name]
    vals = [float(v) for v in np.atleast_1d(np.asarray(values, dtype=float))]
    lo, hi = min(vals), max(vals)
    unit = f" {limit.unit}" if limit.unit else ""
    text = f"{lo:.{digits}f}" if lo == hi else f"{lo:.{digits}f} .. {hi:.{digits}f}"
    band = f"{limit.low:g} .. {limit.high:g}{unit}"
    return RaceLine(limit.label, text + unit, band, all(limit.ok(v) for v in vals))


def info_line(label: str, text: str) -> RaceLine:
    """A line without a band (for example the finishing order and the gaps)."""
    return RaceLine(label, text)


def format_race_section(lines: Sequence[RaceLine]) -> str:
    """The race section: a heading, then one row per line (figure, value, band, pass)."""
    rows = [["race figure", "value", "band", "pass"]]
    for line in lines:
        verdict = "" if line.ok is None else ("PASS" if line.ok else "FAIL")
        rows.append([line.label, line.value, line.band, verdict])
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    out = []
    for n, r in enumerate(rows):
        out.append("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def _solo_run(
    track: Track, car: CarParams, seed: int, tyre: str, laps: int
) -> tuple[list[LapFigures], dict[str, np.ndarray]]:
    """One car alone from a standing start (lap 1) on a new warm set of ``tyre``, until it
    has driven ``laps`` flying laps; those laps' figures and the run's telemetry."""
    sim = Simulation(track, n_cars=1, seed=seed, cars=[car], session=SessionPlan(tyre=tyre))
    blocks = []
    while sim.lap[0] < laps + 2:  # the last flying lap ends with the next one's first sample
        blocks.append(sim.step_block(500))
    batch = concat_batches(blocks)
    return [lap for lap in lap_report(batch) if not lap.standing_start][:laps], batch


def fuel_effect_s_per_kg(track: Track, seed: int = 1) -> float:
    """Lap-time change per kg of fuel: the first flying lap of car 0 on new mediums at the
    fuel loads of :data:`FUEL_LOADS_KG`, against the mean fuel on each lap."""
    base = car_params_for(0, seed)
    times, fuel = [], []
    for load in FUEL_LOADS_KG:
        (lap,), batch = _solo_run(track, replace(base, fuel_start_kg=load), seed, "medium", 1)
        times.append(lap.lap_time_s)
        fuel.append(float(batch["fuel_kg"][batch["lap"] == lap.lap].mean()))
    return (times[1] - times[0]) / (fuel[1] - fuel[0])


def new_tyre_lap_times(track: Track, seed: int = 1) -> dict[str, float]:
    """Compound -> flying lap of car 0 on a new set that does not wear, at the same fuel."""
    car = replace(car_params_for(0, seed), fuel_start_kg=TYRE_RUN_FUEL_KG, tyre_wear_per_g_m=0.0)
    return {name: _solo_run(track, car, seed, name, 1)[0][0].lap_time_s for name in COMPOUNDS}


def degradation_s_per_lap(track: Track, seed: int = 1) -> dict[str, float]:
    """Compound -> lap time added per lap of tyre age: the slope of car 0's flying laps on
    one set, its fuel held constant (no fuel burnt), so the tyres alone change."""
    car = replace(
        car_params_for(0, seed), fuel_start_kg=TYRE_RUN_FUEL_KG, fuel_flow_max_kg_per_h=0.0
    )
    out = {}
    for name in COMPOUNDS:
        laps, _ = _solo_run(track, car, seed, name, DEGRADATION_LAPS)
        slope = np.polyfit([lap.lap for lap in laps], [lap.lap_time_s for lap in laps], 1)[0]
        out[name] = float(slope)
    return out


def qualifying_laps(track: Track, seed: int = 1, n_cars: int = QUALIFYING_CARS) -> list[LapFigures]:
    """The flying lap of each of cars 0 to ``n_cars - 1`` of the seed, each alone on the
    track, low fuel, new mediums (in car order)."""
    laps = []
    for index in range(n_cars):
        car = replace(car_params_for(index, seed), fuel_start_kg=QUALIFYING_FUEL_KG)
        laps.append(_solo_run(track, car, seed, "medium", 1)[0][0])
    return laps


@dataclass(frozen=True)
class CarRaceFigures:
    """What the car's controlled runs measured (see the module's docstring)."""

    fuel_effect_s_per_kg: float
    new_tyre_lap_s: dict[str, float]  # compound -> flying lap on a new set
    degradation_s_per_lap: dict[str, float]  # compound -> lap time added per lap of age
    qualifying: list[LapFigures]  # the flying lap of each car, in car order
    flying: list[LapFigures]  # the flying laps whose gear changes are judged

    @property
    def qualifying_spread_s(self) -> float:
        """P1 to P20: the slowest car's lap less the fastest's."""
        times = [lap.lap_time_s for lap in self.qualifying]
        return max(times) - min(times)

    @property
    def grid_in_pace_order(self) -> bool:
        """Whether each car is slower than the car before it (car 0 on pole)."""
        times = [lap.lap_time_s for lap in self.qualifying]
        return all(b > a for a, b in itertools.pairwise(times))

    def lines(self) -> list[RaceLine]:
        new = self.new_tyre_lap_s
        degradation = self.degradation_s_per_lap
        order = (
            "yes"
            if self.grid_in_pace_order
            else "no: " + ", ".join(f"{lap.lap_time_s:.3f}" for lap in self.qualifying)
        )
        return [
            race_line("fuel_effect_s_per_kg", self.fuel_effect_s_per_kg, digits=4),
            race_line("soft_to_medium_s", new["medium"] - new["soft"]),
            race_line("medium_to_hard_s", new["hard"] - new["medium"]),
            race_line("soft_to_hard_s", new["hard"] - new["soft"]),
            *(race_line(f"degradation_{name}_s_per_lap", degradation[name]) for name in COMPOUNDS),
            race_line("qualifying_spread_s", self.qualifying_spread_s, digits=2),
            info_line("grid order (car index) is the pace order", order),
            race_line("gear_changes", [lap.gear_changes for lap in self.flying], digits=0),
        ]


def car_race_figures(track: Track, seed: int, laps: Sequence[LapFigures] = ()) -> CarRaceFigures:
    """Run the car's controlled runs for ``seed``; the gear changes are judged on the flying
    laps in ``laps`` (on two flying laps of car 0 alone when there are none)."""
    flying = [lap for lap in laps if not lap.standing_start]
    if not flying:
        flying, _ = _solo_run(track, car_params_for(0, seed), seed, "medium", 2)
    return CarRaceFigures(
        fuel_effect_s_per_kg=fuel_effect_s_per_kg(track, seed),
        new_tyre_lap_s=new_tyre_lap_times(track, seed),
        degradation_s_per_lap=degradation_s_per_lap(track, seed),
        qualifying=qualifying_laps(track, seed),
        flying=flying,
    )


def car_race_lines(track: Track, seed: int, laps: Sequence[LapFigures] = ()) -> list[RaceLine]:
    """The race section's lines for the car: fuel effect, new-tyre deltas, degradation per
    compound, the qualifying spread and whether the grid order is the pace order, and the
    gear changes of a flying lap (see :func:`car_race_figures`)."""
    return car_race_figures(track, seed, laps).lines()
