"""Wall time of every gallery example, full size, against the 2-minute budget.

Each example runs in a fresh interpreter, as sphinx-gallery would run it on a
machine with nothing cached (the first PyMC/nutpie compile is part of the time),
once at full size and once with ``MNE_DYAD_EXAMPLES_QUICK=1`` (what the tests and
the CI docs build run). The ratio is time / 120 s: every ratio must stay below 1.

Run: python benchmarks/bench_examples.py [plot_08 ...]
"""

import os
import subprocess
import sys
import time
from pathlib import Path

BUDGET = 120.0
EXAMPLES = sorted((Path(__file__).parents[1] / "examples").glob("plot_*.py"))


def _run(path, quick):
    env = {**os.environ, "MPLBACKEND": "Agg", "MNE_DYAD_EXAMPLES_QUICK": "1" if quick else "0"}
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(path)], env=env, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"{path.name} failed:\n{proc.stderr[-3000:]}")
    return elapsed


def main(selected):
    paths = [p for p in EXAMPLES if not selected or any(s in p.name for s in selected)]
    print(f"{'example':<34} {'full (s)':>9} {'ratio':>6} {'quick (s)':>10}")
    worst = 0.0
    for path in paths:
        full, quick = _run(path, quick=False), _run(path, quick=True)
        worst = max(worst, full / BUDGET)
        print(f"{path.stem:<34} {full:9.1f} {full / BUDGET:6.2f} {quick:10.1f}")
    print(f"largest ratio to the {BUDGET:.0f} s budget: {worst:.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
