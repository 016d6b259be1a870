"""Pacing against the wall clock: the platform's one pacer, :mod:`runtime.pacing`, shared
with ``f1-replay``."""

from runtime.pacing import Pacer, Rate

__all__ = ["Pacer", "Rate"]
