"""Closed curves: a periodic cubic spline through control points, and smoothing and
curvature of closed, evenly spaced polylines.

The spline solves its cyclic tridiagonal system in linear time, so a circuit file of
thousands of points loads in milliseconds.
"""

from __future__ import annotations

import math

import numpy as np


def _second_derivatives(t: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Second derivatives of a periodic cubic spline through ``values`` (shape (n, k)) at knots
    ``t`` (shape (n + 1,), the last knot closing the loop).

    Solves the cyclic tridiagonal system with the Thomas algorithm plus a Sherman-Morrison
    correction, so long files (thousands of points) stay linear in time and memory.
    """
    n = values.shape[0]
    h = np.diff(t)  # h[i] = t[i+1] - t[i], length n
    y_next = np.roll(values, -1, axis=0)
    slope = (y_next - values) / h[:, None]
    rhs = 6.0 * (slope - np.roll(slope, 1, axis=0))  # row i uses slope[i] - slope[i-1]
    lower = np.roll(h, 1)  # coefficient of M[i-1]
    upper = h.copy()  # coefficient of M[i+1]
    diag = 2.0 * (lower + upper)
    # Sherman-Morrison: A = B + u v^T with the corner elements moved into u v^T.
    gamma = -diag[0]
    b = diag.copy()
    b[0] -= gamma
    b[-1] -= upper[-1] * lower[0] / gamma
    u = np.zeros(n)
    u[0] = gamma
    u[-1] = upper[-1]
    v_first, v_last = 1.0, lower[0] / gamma

    def thomas(d: np.ndarray) -> np.ndarray:
        cp = np.zeros(n)
        dp = np.zeros_like(d)
        cp[0] = upper[0] / b[0]
        dp[0] = d[0] / b[0]
        for i in range(1, n):
            m = b[i] - lower[i] * cp[i - 1]
            cp[i] = upper[i] / m if i < n - 1 else 0.0
            dp[i] = (d[i] - lower[i] * dp[i - 1]) / m
        x = np.zeros_like(d)
        x[-1] = dp[-1]
        for i in range(n - 2, -1, -1):
            x[i] = dp[i] - cp[i] * x[i + 1]
        return x

    y = thomas(rhs)
    z = thomas(u[:, None])[:, 0]
    factor = (v_first * y[0] + v_last * y[-1]) / (1.0 + v_first * z[0] + v_last * z[-1])
    return y - z[:, None] * factor[None, :]


class PeriodicSpline:
    """A closed cubic spline through control points (n, k), evaluated with derivatives."""

    def __init__(self, t: np.ndarray, values: np.ndarray) -> None:
        self.t = t
        self.values = values
        self.m = _second_derivatives(t, values)
        self.period = float(t[-1])

    def __call__(self, tq: np.ndarray, derivative: int = 0) -> np.ndarray:
        tq = np.mod(tq, self.period)
        i = np.clip(np.searchsorted(self.t, tq, side="right") - 1, 0, len(self.values) - 1)
        j = (i + 1) % len(self.values)
        h = self.t[i + 1] - self.t[i]
        a = ((self.t[i + 1] - tq) / h)[:, None]
        b = ((tq - self.t[i]) / h)[:, None]
        y0, y1 = self.values[i], self.values[j]
        m0, m1 = self.m[i], self.m[j]
        hh = h[:, None]
        if derivative == 0:
            return a * y0 + b * y1 + ((a**3 - a) * m0 + (b**3 - b) * m1) * hh**2 / 6.0
        if derivative == 1:
            return (y1 - y0) / hh + ((1.0 - 3.0 * a**2) * m0 + (3.0 * b**2 - 1.0) * m1) * hh / 6.0
        return a * m0 + b * m1


def gaussian_smooth_periodic(values: np.ndarray, sigma_samples: float) -> np.ndarray:
    """Gaussian smoothing of a closed-loop signal (wraps around the end)."""
    if sigma_samples <= 0.0:
        return values.copy()
    n = len(values)
    radius = min(math.ceil(4.0 * sigma_samples), n // 2)
    offsets = np.arange(-radius, radius + 1)
    weights = np.exp(-0.5 * (offsets / sigma_samples) ** 2)
    weights /= weights.sum()
    padded = np.concatenate([values[-radius:], values, values[:radius]]) if radius else values
    return np.convolve(padded, weights, mode="valid")


def closed_curvature(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Signed curvature of a closed, evenly spaced polyline by central differences."""
    xp = 0.5 * (np.roll(x, -1) - np.roll(x, 1))
    yp = 0.5 * (np.roll(y, -1) - np.roll(y, 1))
    xpp = np.roll(x, -1) - 2.0 * x + np.roll(x, 1)
    ypp = np.roll(y, -1) - 2.0 * y + np.roll(y, 1)
    return (xp * ypp - yp * xpp) / np.maximum(xp**2 + yp**2, 1e-12) ** 1.5
