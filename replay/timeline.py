"""What a replay changes in the records, and where it starts: pure functions over batches.

A replay is a new session: a new session id, and by default every event time moved by one
offset so that the first record replayed is stamped now. One offset for the whole session
keeps every interval as it was (sample spacing, lap times, the gaps between cars), so the
analytics job and the pit wall compute the same laps; stamping it now keeps the replay
ahead of the analytics job's watermark, which old event times of a long-gone session would
be behind. ``--keep-time`` keeps the stored times.

``--from-lap N`` starts each car at its first record of lap N: the first sample after the
car crossed the line into lap N, so every lap replayed is a whole one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from itertools import pairwise

import numpy as np

from replay.columns import Batch, rows, take

# The contract's pattern for ids: ^[A-Za-z0-9_.:-]{1,64}$.
SESSION_ID_MAX = 64


def new_session_id(original: str, now_us: int) -> str:
    """``<original>-replay-<now in ms>``, the original cut short to fit the contract's 64."""
    suffix = f"-replay-{now_us // 1000}"
    return original[: SESSION_ID_MAX - len(suffix)] + suffix


class FromLap:
    """Keeps each car's records from its first record of lap ``lap`` on (None: all of
    them). Batches come in time order; a car that never reaches the lap gives nothing."""

    def __init__(self, lap: int | None) -> None:
        self.lap = lap
        self.started: set[str] = set()

    def __call__(self, batch: Batch) -> Batch:
        if self.lap is None or rows(batch) == 0:
            return batch
        cars = batch["car_id"]
        reached = batch["lap"] >= self.lap
        keep = np.zeros(len(cars), dtype=bool)
        for car in set(cars.tolist()):
            mine = cars == car
            if car not in self.started:
                first = np.flatnonzero(mine & reached)
                if first.size == 0:
                    continue
                self.started.add(car)
                mine[: first[0]] = False
            keep |= mine
        return batch if keep.all() else take(batch, keep)


class Retime:
    """Gives every record the replay's session id and moves its event time by one offset:
    the one that puts the first record it sees at ``clock()`` (``keep_time``: 0)."""

    def __init__(
        self, session_id: str, keep_time: bool, clock: Callable[[], float] = time.time
    ) -> None:
        self.session_id = session_id
        self.shift_us: int | None = 0 if keep_time else None
        self._clock = clock

    def __call__(self, batch: Batch) -> Batch:
        n = rows(batch)
        if n == 0:
            return batch
        if self.shift_us is None:
            self.shift_us = round(self._clock() * 1_000_000) - int(batch["timestamp"].min())
        out = dict(batch)
        out["session_id"] = np.full(n, self.session_id, dtype=object)
        out["timestamp"] = batch["timestamp"] + self.shift_us
        return out


def blocks(
    batch: Batch, start_us: int, span_us: int | None, max_rows: int
) -> Iterator[tuple[int, Batch]]:
    """Cuts a time-ordered batch into blocks sent at once: the records of one ``span_us``
    slot of event time counted from ``start_us`` (None: no time limit), at most ``max_rows``
    of them. Yields (event time of the block's first record after ``start_us``, block)."""
    n = rows(batch)
    if n == 0:
        return
    offsets = batch["timestamp"] - start_us
    cuts = set(range(max_rows, n, max_rows))
    if span_us is not None:
        slot = offsets // span_us
        cuts.update((np.flatnonzero(slot[1:] != slot[:-1]) + 1).tolist())
    edges = [0, *sorted(cuts), n]
    for a, b in pairwise(edges):
        yield int(offsets[a]), take(batch, slice(a, b))
