"""Headline figures, one tagged line each, so ``make bench`` can put every benchmark's
figures into one table (``benchmarks/run_all.py``) while each benchmark keeps printing its
own detail as it goes."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

PREFIX = "FIGURE "


def figure(what: str, value: str, target: str = "-", met: bool | None = None) -> None:
    """Print one headline figure: what was measured, the figure, the target, met or not."""
    line = {"what": what, "value": value, "target": target, "met": met}
    print(PREFIX + json.dumps(line), flush=True)


def parse(line: str) -> dict | None:
    """The figure on an output line, None for any other line."""
    if not line.startswith(PREFIX):
        return None
    try:
        return json.loads(line[len(PREFIX) :])
    except ValueError:
        return None


def machine() -> str:
    """CPU model, cores, memory and Python: the context every figure needs."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = f"{pages / 2**30:.1f} GiB"
    except (OSError, ValueError):
        memory = "? GiB"
    return f"{model}, {os.cpu_count()} cores, {memory}, Python {platform.python_version()}"
