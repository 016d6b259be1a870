"""``make bench``: every benchmark in turn, its output as it runs, then one table of the
headline figures (also written to ``artifacts/bench-<date>.md``).

    python benchmarks/run_all.py            # all of them (about 30 minutes)
    python benchmarks/run_all.py sink dashboard    # some, by name
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

from figures import machine, parse

HERE = Path(__file__).resolve().parent
ARTIFACTS = HERE.parent / "artifacts"

# name -> command (run from the repository root with this Python)
BENCHMARKS = {
    "simulator": ["benchmarks/bench_simulator.py"],
    "producer": ["benchmarks/bench_producer.py"],
    "sink": ["benchmarks/bench_sink.py", "--rounds", "3"],
    "analytics-latency": ["benchmarks/bench_analytics.py", "latency"],
    "analytics-state": ["benchmarks/bench_analytics.py", "state"],
    "dashboard": ["benchmarks/bench_dashboard.py"],
    "udp": ["benchmarks/bench_udp.py"],
    "e2e": ["benchmarks/bench_e2e.py"],
    "scale": ["benchmarks/bench_scale.py"],
}


def run(name: str, argv: list[str]) -> tuple[list[dict], int, float]:
    """Run one benchmark, passing its output through; its figures, exit code and time."""
    print(f"\n== {name}: python {' '.join(argv)}", flush=True)
    started = time.monotonic()
    found: list[dict] = []
    proc = subprocess.Popen(
        [sys.executable, *argv],
        cwd=HERE.parent,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        figure = parse(line)
        if figure is None:
            sys.stdout.write(line)
        else:
            found.append({**figure, "command": f"python {' '.join(argv)}"})
    return found, proc.wait(), time.monotonic() - started


def table(rows: list[dict]) -> str:
    def met(value: bool | None) -> str:
        return {True: "met", False: "**not met**", None: "-"}[value]

    lines = ["| what | figure | target | | command |", "|---|---|---|---|---|"]
    lines += [
        f"| {r['what']} | {r['value']} | {r['target']} | {met(r['met'])} | `{r['command']}` |"
        for r in rows
    ]
    return "\n".join(lines)


def main(names: list[str]) -> int:
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"run_all: unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
        return 2
    chosen = names or list(BENCHMARKS)
    rows: list[dict] = []
    failed: list[str] = []
    for name in chosen:
        figures, code, seconds = run(name, BENCHMARKS[name])
        rows += figures
        print(f"== {name}: exit {code} after {seconds:.0f} s", flush=True)
        if code != 0 or not figures:
            failed.append(name)
    heading = (
        f"Benchmarks on {dt.date.today().isoformat()}, {machine()}, "
        f"load average at the end {os.getloadavg()[0]:.1f}"
    )
    report = f"{heading}\n\n{table(rows)}\n"
    print(f"\n{report}")
    ARTIFACTS.mkdir(exist_ok=True)
    out = ARTIFACTS / f"bench-{dt.date.today().isoformat()}.md"
    out.write_text(report)
    print(f"(table saved to {out.relative_to(HERE.parent)})")
    if failed:
        print(f"failed or printed no figure: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
