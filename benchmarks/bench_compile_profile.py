"""Where numba's first compile of the default alliance model goes.

Issue 15, point 1 asks for a first fit under 20 s after installation; numba's
compile of the model takes most of the first fit's two minutes. This script fits
the paper-sized study (31 dyads, 128 sessions, 3 outcomes,
``simulate_study(seed=2019)``, the model's defaults, 20 tuning steps and 20 draws:
the compile is the same as with the default draws) in a new Python process with an
empty PyTensor compile folder (numba's per-operation cache lives there) and the
on-disk model cache off, and records numba's compile events. Each compiled
function's *self* time is its compile time minus that of the functions it
compiled on the way (a call compiles its callee). It prints the fit's time, the
number of functions compiled, their summed self time, the share of the three
outer functions that call the graph's operations (log-density and gradient, the
draws' expansion, the initial point), and the functions with the most self time,
summed over their compiles (one per operation that uses them).

Run: python benchmarks/bench_compile_profile.py [--top 25]
"""

import argparse
import tempfile
from pathlib import Path

from _fresh import READ_STUDY, compile_env, run_child, write_study

CHILD = (
    r"""
import collections, json, sys, time, warnings
warnings.simplefilter("ignore")
from numba.core import event
folder = sys.argv[1]
"""
    + READ_STUDY
    + r"""
t0 = time.perf_counter()
with event.install_recorder("numba:compile") as rec:
    md.stats.fit_alliance_model(cube, alliance, seed=1, draws=20, tune=20)
fit = time.perf_counter() - t0
stack, self_time, count = [], collections.Counter(), collections.Counter()
for stamp, ev in rec.buffer:
    func = getattr((ev.data or {}).get("dispatcher"), "py_func", None)
    key = f"{getattr(func, '__module__', '?')}:{getattr(func, '__qualname__', '?')}"
    if ev.is_start:
        stack.append([key, stamp, 0.0])
        continue
    key, start, children = stack.pop()
    self_time[key] += stamp - start - children
    count[key] += 1
    if stack:
        stack[-1][2] += stamp - start
print(json.dumps({
    "fit": fit,
    "self": [[k, v, count[k]] for k, v in self_time.most_common()],
}))
"""
)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=25, help="functions to list")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_study(folder)
        res = run_child(CHILD, [folder], compile_env(folder / "pytensor"), "profiled fit")
    rows = res["self"]
    total = sum(v for _, v, _ in rows)
    outer = sum(v for k, v, _ in rows if k.endswith(":numba_funcified_fgraph"))
    print(
        f"first fit {res['fit']:.1f} s; numba compiled {sum(n for *_, n in rows)} functions "
        f"in {total:.1f} s of self time ({total / res['fit']:.2f} of the fit)"
    )
    key, most, n_most = next(row for row in rows if "fgraph" not in row[0])
    print(
        f"the outer graph functions: {outer:.1f} s ({outer / total:.2f} of the compile); "
        f"the most of any other: {most:.2f} s over {n_most} compiles ({key.split(':')[-1]})"
    )
    print(f"{'self time':>10}  {'count':>5}  function")
    for key, value, n in rows[: args.top]:
        print(f"{value:8.2f} s  {n:5d}  {key}")


if __name__ == "__main__":
    main()
