"""Race strategies: how many stops, on which laps, on which compounds.

Each car gets its own strategy from the seed (:func:`plan_strategy`): one stop (about two
cars in three) or two, with the compounds of a plan teams use at Silverstone and the stops
spread around the laps where the tyres of each stint would be due. Every strategy of a race
long enough for a stop obeys the dry-race rule: at least two different compounds. A stop
keeps the car stationary 2 to 3.5 s (drawn per stop).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from runtime.errors import ConfigError

COMPOUNDS = ("soft", "medium", "hard")
# Compound sequences, one per stint.
ONE_STOP_PLANS: tuple[tuple[str, ...], ...] = (
    ("medium", "hard"),
    ("soft", "hard"),
    ("hard", "medium"),
    ("medium", "soft"),
    ("soft", "medium"),
)
TWO_STOP_PLANS: tuple[tuple[str, ...], ...] = (
    ("soft", "medium", "soft"),
    ("medium", "hard", "soft"),
    ("soft", "hard", "medium"),
    ("medium", "medium", "hard"),
    ("soft", "soft", "medium"),
)
TWO_STOP_SHARE = 0.35
TWO_STOP_MIN_LAPS = 6  # shorter races are one stop
# When the stops fall, as shares of the race distance.
ONE_STOP_WINDOW = (0.38, 0.58)
TWO_STOP_WINDOWS = ((0.25, 0.37), (0.58, 0.74))
STATIONARY_S = (2.1, 3.3)  # within the 2 to 3.5 s a real stop takes
STATIONARY_LIMITS_S = (2.0, 3.5)


@dataclass(frozen=True)
class Strategy:
    """One car's race: the compound of each stint and, for each stop, the lap that ends in
    the pit lane (the in-lap) and the time the car stands in its box."""

    compounds: tuple[str, ...]
    stop_laps: tuple[int, ...] = ()
    stationary_s: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if not self.compounds or any(c not in COMPOUNDS for c in self.compounds):
            raise ConfigError(f"a strategy's compounds must be among {COMPOUNDS}: {self}")
        if len(self.stop_laps) != len(self.compounds) - 1 or len(self.stationary_s) != len(
            self.stop_laps
        ):
            raise ConfigError(f"one stop lap and one stationary time per compound change: {self}")
        if any(lap < 1 for lap in self.stop_laps) or list(self.stop_laps) != sorted(
            set(self.stop_laps)
        ):
            raise ConfigError(f"stop laps must be increasing and at least 1: {self}")
        low, high = STATIONARY_LIMITS_S
        if any(not (math.isfinite(s) and low <= s <= high) for s in self.stationary_s):
            raise ConfigError(f"a stop is {low:g} to {high:g} s stationary: {self}")

    @property
    def stops(self) -> int:
        return len(self.stop_laps)

    @property
    def start_compound(self) -> str:
        return self.compounds[0]

    def legal_for_dry_race(self) -> bool:
        """At least two different compounds (the dry-race rule)."""
        return len(set(self.compounds)) >= 2


def plan_strategy(index: int, seed: int, laps: int, start_compound: str | None = None) -> Strategy:
    """Car ``index``'s strategy for a race of ``laps`` laps in a session seeded with ``seed``.

    ``start_compound`` (``--tyre``) replaces the plan's first compound; a later stint then
    changes compound if the plan would leave one only. A one-lap race has no stop.
    """
    rng = np.random.default_rng([seed & 0xFFFFFFFF, index, 0x57A7])
    two = laps >= TWO_STOP_MIN_LAPS and rng.random() < TWO_STOP_SHARE
    plans = TWO_STOP_PLANS if two else ONE_STOP_PLANS
    compounds = list(plans[int(rng.integers(len(plans)))])
    windows = TWO_STOP_WINDOWS if two else (ONE_STOP_WINDOW,)
    shares = [rng.uniform(low, high) for low, high in windows]
    stationary = [round(float(rng.uniform(*STATIONARY_S)), 2) for _ in windows]
    if start_compound is not None:
        compounds[0] = start_compound
        if len(set(compounds)) < 2 and len(compounds) > 1:
            compounds[-1] = "hard" if start_compound != "hard" else "medium"
    if laps < 2:
        return Strategy((compounds[0],))
    stop_laps: list[int] = []
    for share in shares:
        lap = min(max(round(share * laps), 1), laps - 1)
        if stop_laps and lap <= stop_laps[-1]:
            lap = stop_laps[-1] + 1
        if lap > laps - 1:
            break
        stop_laps.append(lap)
    stints = len(stop_laps) + 1
    compounds = compounds[:stints]
    if len(set(compounds)) < 2:
        compounds[-1] = "hard" if compounds[0] != "hard" else "medium"
    return Strategy(tuple(compounds), tuple(stop_laps), tuple(stationary[: len(stop_laps)]))
