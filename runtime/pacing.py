"""Pacing a stream against the wall clock: realtime, N times realtime, or as fast as possible.

Each tick's due time is computed from the start (``start + tick * period``), never by
adding up sleeps, so sleep overshoot does not accumulate: the stream stays within one
tick of real time however long it runs. A tick is whatever the caller counts ``hz`` of per
second of stream time: the simulator's physics ticks (``f1-simulate``), microseconds of
event time (``f1-replay``). The clock and sleep are injected: tests pass a fake clock, a
command passes its stop signal's ``wait`` so a stop ends a long sleep at once.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from runtime.errors import ConfigError


@dataclass(frozen=True)
class Rate:
    """Simulated time per wall-clock time; ``factor`` None means as fast as possible."""

    factor: float | None

    @classmethod
    def parse(cls, text: str) -> Rate:
        """``realtime``, ``max`` or a positive finite number (times real time)."""
        value = text.strip().lower()
        if value == "realtime":
            return cls(1.0)
        if value == "max":
            return cls(None)
        try:
            factor = float(value)
        except ValueError:
            factor = 0.0
        # inf would be a pacing factor no clock can follow: 'max' is the way to ask for it.
        if not 0 < factor < math.inf:
            raise ConfigError(f"rate must be 'realtime', 'max' or a positive number, got {text!r}")
        return cls(factor)

    def __str__(self) -> str:
        if self.factor is None:
            return "max"
        return "realtime" if self.factor == 1.0 else f"{self.factor:g}x realtime"


class Pacer:
    """Sleeps until each tick is due; reports how far behind schedule the stream is."""

    def __init__(
        self,
        rate: Rate,
        hz: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        self.rate = rate
        self.period_s = 1.0 / (hz * rate.factor) if rate.factor else 0.0
        self._clock = clock
        self._sleep = sleep
        self._start = clock()
        self.max_lag_s = 0.0

    def wait_for(self, tick: int) -> None:
        """Return when tick number ``tick`` (0-based) is due."""
        if self.rate.factor is None:
            return
        due = self._start + tick * self.period_s
        now = self._clock()
        if now < due:
            self._sleep(due - now)
        else:
            self.max_lag_s = max(self.max_lag_s, now - due)

    def lag_s(self, tick: int) -> float:
        """How far the stream is behind schedule for ``tick`` (0 when on time or ahead)."""
        if self.rate.factor is None:
            return 0.0
        return max(0.0, self._clock() - (self._start + tick * self.period_s))
