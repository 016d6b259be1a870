"""Compiled loops of the column encoder (``Serializer.encode_columns``) and of the column
range check it runs (``RecordValidator.check_columns``): one pass over a column where numpy
needs several, for the costliest steps of a batch: zigzag varints (timestamps take eight
bytes), range checks, and moving each row's bytes together past its shorter strings and
varints.

The loops touch numbers only, so they run without the GIL: a thread of the same process (the
UDP ingest's receive thread) keeps going meanwhile.

Imported when a serializer first encodes or checks columns, so that a process that only
decodes never loads numba. The import compiles (first run) or loads the functions for the column
types the encoder passes, so that the first batch does not wait for them.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from runtime.compile_notice import compile_notice

_LOW7 = np.uint64(0x7F)
_HIGH = np.uint64(0x80)
_SEVEN = np.uint64(7)
_ONE = np.uint64(1)
_SIGN = np.int64(63)


@njit(cache=True, nogil=True)
def zigzag_varints(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """Avro's zigzag varints of an int64 column: a (rows, width) byte matrix with each row's
    varint left-aligned, each row's length, and whether every row is as wide as the widest.
    Bytes past a row's length are unspecified."""
    n = len(values)
    zigzag = np.empty(n, dtype=np.uint64)
    lengths = np.empty(n, dtype=np.int64)
    for i in range(n):
        v = values[i]
        z = (np.uint64(v) << _ONE) ^ np.uint64(v >> _SIGN)
        zigzag[i] = z
        # Bytes of 7 bits: counted by comparisons rather than a loop, so the pass vectorises.
        length: int | np.integer = 1  # a numpy integer once a comparison is added
        for b in range(1, 10):
            length += z >= (_ONE << np.uint64(7 * b))
        lengths[i] = length
    widest = lengths.max()
    out = np.empty((n, widest), dtype=np.uint8)
    for i in range(n):
        z = zigzag[i]
        last = lengths[i] - 1
        for b in range(widest):
            byte = (z >> np.uint64(7 * b)) & _LOW7
            out[i, b] = np.uint8(byte | _HIGH if b < last else byte)
    return out, lengths, lengths.min() == widest


@njit(cache=True, nogil=True)
def first_outside(values: np.ndarray, low: float | np.integer, high: float | np.integer) -> int:
    """Index of the first value not within ``low``..``high`` (NaN is not), -1 if none."""
    inside = 0
    for i in range(len(values)):  # no early exit: the usual all-inside case vectorises
        x = values[i]
        inside += (low <= x) & (x <= high)
    if inside == len(values):
        return -1
    for i in range(len(values)):
        x = values[i]
        if not (low <= x <= high):
            return i
    return -1


@njit(cache=True, nogil=True)
def pack_rows(
    raw: np.ndarray, offsets: np.ndarray, widths: np.ndarray, lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each row of the (rows, size) byte matrix ``raw`` without the unused bytes of its
    narrow parts: part ``j`` sits at ``offsets[j]`` (ascending), ``widths[j]`` bytes wide, of
    which row ``i`` uses ``lengths[j, i]``. The rows moved to the left (zeros after them) and
    each row's size."""
    n, size = raw.shape
    flat = raw.reshape(-1)  # flat arrays and plain offsets in the loop
    packed = np.zeros(n * size, dtype=np.uint8)
    sizes = np.empty(n, dtype=np.int64)
    parts = len(offsets)
    for i in range(n):
        base = i * size
        src = base
        dst = base
        for j in range(parts + 1):
            # The full-width bytes up to part j, then the bytes of it that row i uses.
            keep = base + (offsets[j] + lengths[j, i] if j < parts else size) - src
            packed[dst : dst + keep] = flat[src : src + keep]
            dst += keep
            if j < parts:
                src = base + offsets[j] + widths[j]
        sizes[i] = dst - base
    return packed.reshape(n, size), sizes


with compile_notice("the column encoder"):
    zigzag_varints(np.zeros(1, dtype=np.int64))
    first_outside(np.zeros(1), np.float64(0.0), np.float64(0.0))
    first_outside(np.zeros(1, dtype=np.int64), np.int64(0), np.int64(0))
    pack_rows(
        np.zeros((1, 1), dtype=np.uint8),
        np.zeros(1, dtype=np.int64),
        np.ones(1, dtype=np.int64),
        np.ones((1, 1), dtype=np.int64),
    )
