"""How far below the default alliance model's first compile a PyMC model can go.

Issue 15, point 1 asks for a first fit under 20 s after installation.
``bench_compile_profile.py`` found numba's compile spread over about 1,000
functions with none that stands out. This script asks what a smaller graph would
save: it compiles, with numba and each in a new Python process with an empty
PyTensor compile folder, the log density and its gradient of

- ``iid normal``: 333 independent normals (the default model's dimension), the
  least a PyMC model costs;
- ``priors, no LKJ``: the default model's prior terms without its two LKJ
  variables (the slope blocks' correlations, ``LKJCorr``, and the residuals'
  covariance, ``LKJCholeskyCov`` with its SDs);
- ``priors``: all its prior terms (the free variables' densities);
- ``whole model``: every term (priors, the latent-centring potential, the
  outcomes' likelihood).

The default model is that of ``fit_alliance_model`` on the paper-sized study (31
dyads, 128 sessions, 3 outcomes, ``simulate_study(seed=2019)``). Each part reports
the time to build the function (the log density and gradient graphs, PyTensor's
rewrites, the numba functions' definitions: ``pm.compile``) and that of its first
call (numba compiles then), and the graph's operations. nutpie's own first compile
adds the expansion of the draws and the initial point, so it takes longer. A custom
operation holding the likelihood and a hand-written gradient would leave the
priors' compile; only the first line is free of the model's own terms.

Run: python benchmarks/bench_compile_floor.py
"""

import tempfile
from pathlib import Path

from _fresh import READ_STUDY, compile_env, run_child, write_study

PARTS = ("iid normal", "priors, no LKJ", "priors", "whole model")

CHILD = (
    r"""
import json, sys, time, warnings
warnings.simplefilter("ignore")
folder, part = sys.argv[1], sys.argv[2]
"""
    + READ_STUDY
    + r"""
import numpy as np
import pymc as pm
import pytensor
from pymc.distributions.multivariate import LKJCorrRV, _LKJCholeskyCovRV
from mne_dyad.stats import _models
from mne_dyad.stats._alliance_graph import _build_alliance_model

captured = {}

class Captured(Exception):
    pass

def capture(data, options, **kwargs):  # the prepared data and options, not a fit
    captured.update(data=data, options=options)
    raise Captured

_models._sample_alliance = capture
try:
    md.stats.fit_alliance_model(cube, alliance, seed=1)
except Captured:
    pass
model = _build_alliance_model(captured["data"], **captured["options"])
dim = int(sum(np.prod(v.shape) for v in model.initial_point().values()))
if part == "iid normal":
    with pm.Model() as model:
        pm.Normal("x", 0.0, 1.0, shape=dim)
    terms = model.free_RVs
elif part == "whole model":
    terms = None
else:
    lkj = (LKJCorrRV, _LKJCholeskyCovRV)
    terms = [v for v in model.free_RVs if part == "priors" or not isinstance(v.owner.op, lkj)]
    assert part == "priors" or len(terms) == len(model.free_RVs) - 2
t0 = time.perf_counter()
logp = model.logp(vars=terms)
values = model.value_vars
grads = pytensor.grad(logp, values, disconnected_inputs="ignore")
fn = pm.compile(values, [logp, *grads], mode="NUMBA", on_unused_input="ignore")
build = time.perf_counter() - t0
point = model.initial_point()
t0 = time.perf_counter()
fn(*[point[v.name] for v in values])
first = time.perf_counter() - t0
nodes = len(fn.maker.fgraph.apply_nodes)
print(json.dumps({"build": build, "first": first, "nodes": nodes, "dim": dim}))
"""
)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_study(folder)
        results = {}
        for k, part in enumerate(PARTS):
            env = compile_env(folder / f"pytensor{k}")
            results[part] = run_child(CHILD, [folder, part], env, part)

    def total(res):
        return res["build"] + res["first"]

    whole = total(results["whole model"])
    dim = results["iid normal"]["dim"]
    print(f"log density and gradient, numba, an empty compile folder ({dim} dims)")
    header = ("terms", "build", "first call", "total", "nodes")
    print("{:>16}  {:>7}  {:>10}  {:>7}  {:>5}  of the whole".format(*header))
    for part in PARTS:
        res = results[part]
        print(
            f"{part:>16}  {res['build']:5.1f} s  {res['first']:8.1f} s  {total(res):5.1f} s  "
            f"{res['nodes']:5d}  {total(res) / whole:12.2f}"
        )


if __name__ == "__main__":
    main()
