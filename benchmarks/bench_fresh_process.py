"""The alliance model re-run as a new script: with and without the on-disk model cache.

Issue 15, point 1. The paper-sized study (31 dyads, 128 sessions, 3 outcomes,
``simulate_study(seed=2019)``) is written to a temporary folder once; then each
measurement is a new Python process that imports mne-dyad, reads the cube and
the ratings, and calls ``fit_alliance_model`` with its defaults:

- ``first``: an empty PyTensor compile directory (``PYTENSOR_FLAGS=base_compiledir``
  pointing to a new folder): the first fit after install;
- ``again``: a second process on the same directory (every later script).

Both are run with ``MNE_DYAD_MODEL_CACHE=false`` (nutpie's own compile: the
graph's numba code is cached by PyTensor, nutpie's C callbacks are not) and with
the cache on (the package's default). The script prints each process's wall
time (start to exit), the fit's time, the smallest bulk ESS and largest R-hat of
the betas, whether the two paths gave the same draws, and the ratios.

Run: python benchmarks/bench_fresh_process.py [--repeat 3]
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from _fresh import READ_STUDY, compile_env, run_child, write_study

CHILD = (
    r"""
import json, sys, time, warnings
t0 = time.perf_counter()
warnings.simplefilter("ignore")
import numpy as np
folder = sys.argv[1]
"""
    + READ_STUDY
    + r"""
t1 = time.perf_counter()
fit = md.stats.fit_alliance_model(cube, alliance, seed=1)
t2 = time.perf_counter()
summary = fit.summary()
betas = summary[summary.index.str.startswith("beta[")]
beta = fit.datatree["posterior"]["beta"].values
print(json.dumps({
    "import_and_read": t1 - t0,
    "fit": t2 - t1,
    "min_ess_beta": float(betas.ess_bulk.min()),
    "max_rhat_beta": float(betas.r_hat.max()),
    "checksum": float(np.round(beta.sum(), 10)),
}))
"""
)


def run(folder, compiledir, cache):
    t0 = time.perf_counter()
    result = run_child(CHILD, [folder], compile_env(compiledir, model_cache=cache), "fit's")
    result["wall"] = time.perf_counter() - t0
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="'again' processes per path")
    args = parser.parse_args()
    import mne

    mne.set_log_level("ERROR")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_study(folder)
        rows = {}
        for cache in (False, True):
            compiledir = folder / f"pytensor_{'cache' if cache else 'nutpie'}"
            first = run(folder, compiledir, cache)
            again = [run(folder, compiledir, cache) for _ in range(args.repeat)]
            rows[cache] = (first, again)
            name = "model cache on " if cache else "nutpie's compile"
            for label, res in [
                ("first", first),
                *((f"again {k + 1}", r) for k, r in enumerate(again)),
            ]:
                print(
                    f"{name} {label:8s} wall {res['wall']:6.1f} s  (import+read "
                    f"{res['import_and_read']:4.1f} s, fit {res['fit']:5.1f} s)  min ESS "
                    f"{res['min_ess_beta']:5.0f}  max R-hat {res['max_rhat_beta']:.3f}  draws' sum "
                    f"{res['checksum']:.6f}",
                    flush=True,
                )
    off_first, off_again = rows[False]
    on_first, on_again = rows[True]
    off = statistics.median(r["wall"] for r in off_again)
    on = statistics.median(r["wall"] for r in on_again)
    # a process that compiles the graph's numba code and one that loads it from the
    # cache can differ in the last bits (and so in the draws), on either path:
    # compare like with like
    same = off_first["checksum"] == on_first["checksum"] and {
        r["checksum"] for r in [*off_again, *on_again]
    } == {off_again[0]["checksum"]}
    print(
        f"median wall of a later process: {off:.1f} s without the cache, {on:.1f} s with it "
        f"(ratio {off / on:.2f}); first process {off_first['wall']:.1f} s vs "
        f"{on_first['wall']:.1f} s (ratio {off_first['wall'] / on_first['wall']:.2f}); "
        f"same draws on both paths: {same}"
    )


if __name__ == "__main__":
    main()
