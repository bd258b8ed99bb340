"""The alliance model in a fresh process: numba (the default) against JAX's two routes.

Issue 15, point 1 names a persistent compilation cache for JAX as one way to make a
fresh process fast. This script measures it on the paper-sized study of
``bench_fresh_process.py`` (31 dyads, 128 sessions, 3 outcomes,
``simulate_study(seed=2019)``, the model's defaults). Each measurement is a new
Python process; per route, the first process starts from empty caches and the
second finds the first one's compiled code:

- ``numba``: nutpie with its numba backend and mne-dyad's on-disk model cache
  (the package's default);
- ``nutpie-jax``: nutpie with ``backend="jax", gradient_backend="jax"``, JAX's
  persistent compilation cache on (``compile_pymc_model`` builds the JAX functions;
  JAX compiles them at the first gradient, inside the fit);
- ``numpyro``: ``sampler="numpyro"`` (the whole sampler compiled by JAX), the same
  cache on.

Each route has its own PyTensor compile folder and JAX cache. It prints the versions
of the libraries, each process's fit time, the time of nutpie's ``compile_pymc_model``
(nutpie-jax), the
smallest bulk ESS of the betas, and the ratios of the JAX routes' times to numba's.
Needs ``jax`` and ``numpyro`` installed (``pip install jax numpyro``); mne-dyad
does not depend on them.

Run: python benchmarks/bench_jax_backends.py
"""

import os
import sys
import tempfile
from pathlib import Path

from _fresh import run_child, write_study

CHILD = r"""
import json, sys, time, warnings
warnings.simplefilter("ignore")
route, folder, jax_cache = sys.argv[1:4]
import mne
import xarray as xr
import mne_dyad as md
from mne_dyad.stats import _sampling
mne.set_log_level("ERROR")
compile_seconds = []
if route != "numba":
    import jax
    jax.config.update("jax_compilation_cache_dir", jax_cache)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
if route == "nutpie-jax":
    import nutpie

    def _compile(model, key=None):
        t = time.perf_counter()
        compiled = nutpie.compile_pymc_model(model, backend="jax", gradient_backend="jax")
        compile_seconds.append(time.perf_counter() - t)
        return compiled

    _sampling._compile_nutpie = _compile
cube = md.synchrony.read_cube(folder + "/cube.nc")
alliance = xr.open_dataset(folder + "/alliance.nc").load()
t0 = time.perf_counter()
fit = md.stats.fit_alliance_model(
    cube, alliance, seed=1, sampler="numpyro" if route == "numpyro" else "nutpie"
)
fit_seconds = time.perf_counter() - t0
summary = fit.summary()
betas = summary[summary.index.str.startswith("beta[")]
print(json.dumps({
    "fit": fit_seconds,
    "compile": compile_seconds[0] if compile_seconds else None,
    "min_ess_beta": float(betas.ess_bulk.min()),
}))
"""


def run(route, folder, env):
    return run_child(CHILD, [route, folder, folder / f"jax_{route}"], env, route)


def main():
    import importlib.util

    missing = [m for m in ("jax", "numpyro") if importlib.util.find_spec(m) is None]
    if missing:
        sys.exit(f"This benchmark needs {missing}: pip install jax numpyro")
    import mne

    mne.set_log_level("ERROR")
    from importlib.metadata import version

    names = ("mne-dyad", "pymc", "pytensor", "numba", "nutpie", "jax", "numpyro")
    print(", ".join(f"{name} {version(name)}" for name in names), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_study(folder)
        env = {
            **os.environ,
            # NumPyro's chains in parallel need one JAX device per chain
            "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
        }
        results = {}
        for route in ("numba", "nutpie-jax", "numpyro"):
            # empty caches for each route's first process: a compile folder of its own
            # (numba's code, the model cache, and PyTensor's C code of the initial point
            # and the pointwise log-likelihood, which every route compiles) and a JAX
            # cache of its own
            own = {**env, "PYTENSOR_FLAGS": f"base_compiledir={folder / f'pytensor_{route}'}"}
            results[route] = [run(route, folder, own) for _ in range(2)]
            for label, res in zip(("first", "later"), results[route], strict=True):
                extra = (
                    ""
                    if res["compile"] is None
                    else f" (compile_pymc_model {res['compile']:.1f} s)"
                )
                print(
                    f"{route:10s} {label} process: fit {res['fit']:6.1f} s{extra}, "
                    f"min beta ESS {res['min_ess_beta']:5.0f} "
                    f"({res['min_ess_beta'] / res['fit']:.0f} per second of fit)",
                    flush=True,
                )
    for route in ("nutpie-jax", "numpyro"):
        first, later = (r["fit"] for r in results[route])
        base_first, base_later = (r["fit"] for r in results["numba"])
        print(
            f"{route} against numba: first process {first / base_first:.2f}x, "
            f"later process {later / base_later:.2f}x the fit time"
        )


if __name__ == "__main__":
    main()
