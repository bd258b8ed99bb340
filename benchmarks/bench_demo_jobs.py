"""``mne-dyad demo``: every core for the cube and the surrogates against one process.

Issue 15, point 2 (the full demo in 90 s on 2 cores). The full demo runs the synchrony
cube and the chance step with ``n_jobs=-1`` (the quick one with ``n_jobs=1``). This
script times the whole ``mne-dyad demo`` command (a new process each time, start to
exit: simulation, every step, the output files) as the package runs it (``as is``)
and with the cube and the chance step in the calling process (``one job``), in
turn, A B A B ..., and prints each run's wall time, the medians and the median of the
paired ratios. Run it with the models already compiled (after one demo), so the
figures are the steps' own.

Run: python benchmarks/bench_demo_jobs.py [--quick] [--pairs 3]
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time

ONE_JOB = r"""
import sys
import mne_dyad.pipeline as pipeline
from mne_dyad.cli import main
make = pipeline._demo_inputs

def one_job(**kwargs):
    study, config = make(**kwargs)
    config.synchrony["n_jobs"] = config.chance["n_jobs"] = 1
    return study, config

pipeline._demo_inputs = one_job
sys.exit(main(sys.argv[1:]))
"""
AS_IS = "import sys; from mne_dyad.cli import main; sys.exit(main(sys.argv[1:]))"


def _run(code, args):
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True)
    return time.perf_counter() - t0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="time the quick demo")
    parser.add_argument("--pairs", type=int, default=3, help="A/B pairs")
    args = parser.parse_args()
    times = {"as is": [], "one job": []}
    with tempfile.TemporaryDirectory() as tmp:
        demo = ["demo", "--quiet", "--out", tmp, *(["--quick"] if args.quick else [])]
        for pair in range(args.pairs):
            for name, code in (("as is", AS_IS), ("one job", ONE_JOB)):
                times[name].append(_run(code, demo))
                print(f"pair {pair + 1} {name:8s} wall {times[name][-1]:6.1f} s", flush=True)
    ratios = [a / b for a, b in zip(times["as is"], times["one job"], strict=True)]
    what = "quick demo" if args.quick else "full demo"
    print(
        f"{what}: median wall {statistics.median(times['as is']):.1f} s as is, "
        f"{statistics.median(times['one job']):.1f} s in one job; median paired ratio "
        f"{statistics.median(ratios):.2f}"
    )


if __name__ == "__main__":
    main()
