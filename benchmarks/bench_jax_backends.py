"""The alliance model in a fresh process: numba (the default) against JAX and PyTensor's C.

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
  cache on;
- ``pymc-c``: ``sampler="pymc"``, PyMC's own NUTS on PyTensor's C backend, whose
  on-disk cache of compiled C modules (the compile folder) a later process finds.

Each route has its own PyTensor compile folder and JAX cache. It prints the versions
of the libraries, each process's fit time, the time of nutpie's ``compile_pymc_model``
(nutpie-jax), the smallest bulk ESS of the betas (and of the random slopes' SDs),
and the ratios of the other routes' times to numba's (which always runs, first).
The JAX routes need ``jax`` and ``numpyro`` installed (``pip install jax
numpyro``); mne-dyad does not depend on them.

Run: python benchmarks/bench_jax_backends.py [--routes numba,nutpie-jax,numpyro,pymc-c]
[--draws 1000] (draws per chain; the model's default otherwise)
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

from _fresh import READ_STUDY, run_child, write_study

CHILD = (
    r"""
import json, sys, time, warnings
warnings.simplefilter("ignore")
route, folder, jax_cache, draws = sys.argv[1:5]
import arviz as az
"""
    + READ_STUDY
    + r"""
from mne_dyad.stats import _sampling
compile_seconds = []
if route in ("nutpie-jax", "numpyro"):
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
t0 = time.perf_counter()
fit = md.stats.fit_alliance_model(
    cube,
    alliance,
    seed=1,
    sampler={"numpyro": "numpyro", "pymc-c": "pymc"}.get(route, "nutpie"),
    draws=None if draws == "default" else int(draws),
)
fit_seconds = time.perf_counter() - t0
summary = fit.summary()
betas = summary[summary.index.str.startswith("beta[")]
posterior = fit.datatree["posterior"].to_dataset()
slope_sds = az.ess(posterior[["sigma_slope"]]) if "sigma_slope" in posterior else None
print(json.dumps({
    "fit": fit_seconds,
    "compile": compile_seconds[0] if compile_seconds else None,
    "min_ess_beta": float(betas.ess_bulk.min()),
    "min_ess_slope_sd": None if slope_sds is None else float(slope_sds["sigma_slope"].min()),
}))
"""
)


def run(route, folder, env, draws):
    return run_child(CHILD, [route, folder, folder / f"jax_{route}", draws], env, route)


ROUTES = ("numba", "nutpie-jax", "numpyro", "pymc-c")


def main():
    import importlib.util

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routes", default="numba,nutpie-jax,numpyro", help="routes, in turn")
    parser.add_argument("--draws", default="default", help="draws per chain (the model's default)")
    args = parser.parse_args()
    routes = args.routes.split(",")
    unknown = sorted(set(routes) - set(ROUTES))
    if unknown:
        sys.exit(f"--routes takes any of {ROUTES}, not {unknown}")
    routes = ["numba", *(r for r in dict.fromkeys(routes) if r != "numba")]  # the reference
    jax_routes = {"nutpie-jax", "numpyro"} & set(routes)
    missing = [m for m in ("jax", "numpyro") if jax_routes and importlib.util.find_spec(m) is None]
    if missing:
        sys.exit(f"Routes {sorted(jax_routes)} need {missing}: pip install jax numpyro")
    import mne

    mne.set_log_level("ERROR")
    from importlib.metadata import version

    names = ("mne-dyad", "pymc", "pytensor", "numba", "nutpie")
    names += ("jax", "numpyro") if jax_routes else ()
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
        for route in routes:
            # empty caches for each route's first process: a compile folder of its own
            # (numba's code, the model cache, and PyTensor's C code of the initial point
            # and the pointwise log-likelihood, which every route compiles) and a JAX
            # cache of its own
            own = {**env, "PYTENSOR_FLAGS": f"base_compiledir={folder / f'pytensor_{route}'}"}
            results[route] = [run(route, folder, own, args.draws) for _ in range(2)]
            for label, res in zip(("first", "later"), results[route], strict=True):
                extra = (
                    "" if res["compile"] is None else f", compile_pymc_model {res['compile']:.1f} s"
                )
                if res.get("min_ess_slope_sd") is not None:
                    extra += f", slope SDs' {res['min_ess_slope_sd']:.0f}"
                print(
                    f"{route:10s} {label} process: fit {res['fit']:6.1f} s, "
                    f"min beta ESS {res['min_ess_beta']:5.0f} "
                    f"({res['min_ess_beta'] / res['fit']:.0f} per second of fit){extra}",
                    flush=True,
                )
    for route in routes[1:]:
        first, later = (r["fit"] for r in results[route])
        base_first, base_later = (r["fit"] for r in results["numba"])
        print(
            f"{route} against numba: first process {first / base_first:.2f}x, "
            f"later process {later / base_later:.2f}x the fit time"
        )


if __name__ == "__main__":
    main()
