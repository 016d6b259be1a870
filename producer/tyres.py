"""Tyre compounds and the set on each car: one place for their parameters.

Bands (../shared/realism.md, from Pirelli previews, the FIA sporting regulations and the TUMFTM
race-simulation parameters): new soft faster than new medium by about 0.4 to 0.8 s a lap,
medium faster than hard by 0.3 to 0.6 s, new soft to new hard 0.6 to 1.6 s; degradation 0.01
to 0.08 s per lap of tyre age, fastest on softs; a fresh set is slower until it is up to
temperature (the out-lap after a stop).

The model, per car:

* a compound scales the car's tyre friction (:attr:`Compound.grip`; the medium is the
  reference, 1.0, so a car on mediums is the car of :class:`producer.car.CarParams`);
* the set's wear (the ``tyre_wear`` channel, 0 for a new set, 1 at the end of its life) grows
  with the tyres' work, g times metres driven, at ``CarParams.tyre_wear_per_g_m`` (a medium)
  times :attr:`Compound.wear_factor`;
* grip falls linearly with wear, :attr:`Compound.grip_loss_at_full_wear` at wear 1, so the lap
  time grows steadily with the laps on the set;
* a cold set, fitted in the pit lane, lacks :attr:`Compound.warmup_grip_loss` of its grip where
  it was fitted, fading linearly to nothing over :attr:`Compound.warmup_m` metres. The driver
  drives the out-lap for that grip (the target speed profile); the car's physics keeps the warm
  grip, so the car is slower there but never beyond its limit.

At Silverstone 1 % of grip is worth about 0.34 s a lap and a lap is about 12,000 g m of tyre
work, which sets the figures below: the lap times these parameters give are measured by
:mod:`producer.report` (``f1-simulate --report``) and asserted by ``tests/test_realism.py``.

How the simulator uses it (:class:`producer.simulation.Simulation`): ``Simulation.tyres`` is a
:class:`TyreSets`; ``Simulation.fit_tyres(i, compound)`` fits a new set to car ``i`` (cold, as
at a pit stop, unless ``cold=False``) and rebuilds its profile, which also gives the compiled
tick the compound's constants. The tick counts the age for the telemetry
(``CarState.tyre_age``, one more at each line crossing), the same as
:meth:`TyreSets.age_laps` of the car's lap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from runtime.errors import ConfigError

# Dry compounds, in the order of their codes in TyreSets.compound.
COMPOUNDS: tuple[str, ...] = ("soft", "medium", "hard")
DEFAULT_COMPOUND = "medium"
MAX_AGE_LAPS = 200  # the telemetry contract's range of tyre_age_laps


@dataclass(frozen=True)
class Compound:
    """One dry compound (units in the names; shares are of the car's tyre friction)."""

    name: str
    grip: float  # friction of a new, warm set relative to a medium
    wear_factor: float  # wear per g m relative to a medium
    grip_loss_at_full_wear: float  # share of the grip lost at wear 1
    warmup_grip_loss: float  # share of the grip a cold set lacks where it is fitted
    warmup_m: float  # metres driven until a cold set is up to temperature


# At Silverstone (measured by producer.report): a new soft is 0.61 s a lap faster than a
# new medium, a new hard 0.49 s slower (soft to hard 1.10 s). Wear: about 30 laps of life on
# a soft, 40 on a medium, 53 on a hard; with the grip lost at full wear, degradation of
# 0.049, 0.036 and 0.020 s per lap of age. Warm-up: 0.3 s (soft), 0.5 s (medium) and 0.9 s
# (hard) lost on the out-lap, all of it in its first 3 km.
COMPOUND: dict[str, Compound] = {
    "soft": Compound("soft", 1.018, 1.33, 0.048, 0.08, 1_500.0),
    "medium": Compound("medium", 1.000, 1.00, 0.041, 0.10, 2_000.0),
    "hard": Compound("hard", 0.9865, 0.75, 0.031, 0.12, 3_000.0),
}


def compound(name: str) -> Compound:
    """The compound called ``name`` (one of :data:`COMPOUNDS`); ConfigError otherwise."""
    found = COMPOUND.get(name)
    if found is None:
        raise ConfigError(f"unknown tyre compound {name!r}: use one of {', '.join(COMPOUNDS)}")
    return found


def grip_scale(
    name: str, wear: float, metres_on_set: float | np.ndarray = math.inf
) -> float | np.ndarray:
    """Tyre friction of a set relative to a new, warm medium.

    ``wear`` is the set's wear (0 to 1); ``metres_on_set`` is how far a cold set has been
    driven since it was fitted (an array gives one value per point; infinity, the default, is a
    warm set).
    """
    c = compound(name)
    worn = c.grip * (1.0 - c.grip_loss_at_full_wear * min(max(wear, 0.0), 1.0))
    return worn * warmup_scale(c, metres_on_set)


def warmup_scale(c: Compound, metres_on_set: float | np.ndarray) -> float | np.ndarray:
    """Share of the warm grip a set has ``metres_on_set`` metres after a cold fit."""
    cold = np.clip(1.0 - np.asarray(metres_on_set, dtype=float) / c.warmup_m, 0.0, 1.0)
    scale = 1.0 - c.warmup_grip_loss * cold
    return float(scale) if scale.ndim == 0 else scale


class TyreSets:
    """The set on each car of a session (arrays, one element per car).

    * ``compound``: code of the compound, an index into :data:`COMPOUNDS`;
    * ``fitted_lap``: the car's lap number when the set was fitted, less its age then, so
      that the age is ``lap - fitted_lap`` (laps completed on the set: 0 on a new set, one
      more at each crossing of the line, as the telemetry contract counts it);
    * ``cold_from_m``: for a set fitted cold, the car's total distance when it was fitted
      (``(lap - 1) * lap length + lap distance``); NaN for a warm set.

    The wear itself is the simulator's state (``CarState.wear``), since the tyres' work wears
    it tick by tick.
    """

    def __init__(self, n_cars: int, name: str = DEFAULT_COMPOUND) -> None:
        compound(name)
        self.compound = np.full(n_cars, COMPOUNDS.index(name), dtype=np.int64)
        self.fitted_lap = np.ones(n_cars, dtype=np.int64)
        self.cold_from_m = np.full(n_cars, np.nan)

    def name(self, i: int) -> str:
        """Compound of car ``i``'s set."""
        return COMPOUNDS[int(self.compound[i])]

    def names(self) -> np.ndarray:
        """Compound of every car (an object array of str, for a telemetry column)."""
        return np.array(COMPOUNDS, dtype=object)[self.compound]

    def age_laps(self, lap: np.ndarray) -> np.ndarray:
        """Laps completed on each set, for the cars' lap numbers ``lap`` (one per car, or a
        block's lap column tick-major: its length a multiple of the number of cars)."""
        lap = np.asarray(lap)
        fitted = np.tile(self.fitted_lap, len(lap) // len(self.fitted_lap))
        return np.clip(lap - fitted, 0, MAX_AGE_LAPS)

    def fit(
        self, i: int, name: str, lap: int, age_laps: int = 0, cold_from_m: float = math.nan
    ) -> None:
        """Car ``i`` gets a set of ``name`` on lap ``lap``, ``age_laps`` laps old."""
        compound(name)
        if not 0 <= age_laps <= MAX_AGE_LAPS:
            raise ConfigError(f"tyre age must be 0 to {MAX_AGE_LAPS} laps, got {age_laps!r}")
        self.compound[i] = COMPOUNDS.index(name)
        self.fitted_lap[i] = lap - age_laps
        self.cold_from_m[i] = cold_from_m
