"""Time to a trustworthy posterior for the alliance models, measured in one run.

Paper-sized data: the simulated 2019 study (31 dyads, 128 sessions with EDA,
3 outcomes), synchrony cube by WCLC. For each sampler the run reports compile
and sampling time, the smallest bulk ESS and largest R-hat over every beta, and
ESS per second of sampling:

- the multivariate model (LKJ dyad effects and residuals) with nutpie (numba)
  and with PyMC's default NUTS sampler;
- ``fit_alliance_model`` end to end a second time in the same process, when
  nutpie's compiled model is cached (target: bulk ESS >= 1,000 for every beta
  in under 15 s; brms needs about 60 s, 53 s of it compiling, on this machine);
- the univariate random-intercept model (bond only) with nutpie against bambi
  on the same data.

Run: python benchmarks/bench_models.py
"""

import logging
import time
import warnings

import arviz as az
import mne
import numpy as np
import pandas as pd
import pymc as pm

import mne_dyad as md
from mne_dyad.stats._alliance_graph import _build_alliance_model
from mne_dyad.stats._models import _prepare_alliance_data

DRAWS, TUNE, CHAINS = 1000, 1000, 2
CACHED_DRAWS = 2000  # enough for bulk ESS >= 1000 on every beta


def beta_diagnostics(tree, var_names=("beta",)):
    summ = az.summary(tree, var_names=list(var_names), kind="diagnostics", round_to="none")
    return float(summ["ess_bulk"].min()), float(summ["r_hat"].max())


def report(name, compile_s, sample_s, tree, var_names=("beta",)):
    ess, rhat = beta_diagnostics(tree, var_names)
    ok = "OK " if rhat <= 1.01 and ess >= 400 else "LOW"
    print(
        f"{name:38s} compile {compile_s:6.1f} s  sample {sample_s:6.1f} s  total "
        f"{compile_s + sample_s:6.1f} s  min ESS {ess:6.0f}  max R-hat {rhat:.3f}  "
        f"ESS/s {ess / sample_s:7.0f}  [{ok}]"
    )
    return compile_s + sample_s, ess / sample_s


def time_nutpie(model):
    """Compile a model for nutpie and sample it: (compile s, sampling s, tree)."""
    import nutpie

    t0 = time.perf_counter()
    compiled = nutpie.compile_pymc_model(model)
    t_compile = time.perf_counter() - t0
    t0 = time.perf_counter()
    tree = nutpie.sample(
        compiled, draws=DRAWS, tune=TUNE, chains=CHAINS, seed=1, progress_bar=False
    )
    return t_compile, time.perf_counter() - t0, tree


def main():
    mne.set_log_level("ERROR")
    warnings.simplefilter("ignore")
    logging.getLogger("pymc").setLevel(logging.ERROR)
    study = md.simulation.simulate_study(seed=2019)
    cube = md.synchrony_cube(study.raws)
    data = _prepare_alliance_data(cube, study.alliance)
    print(
        f"data: {data.sizes['obs']} sessions, {data.sizes['dyad']} dyads, "
        f"{data.sizes['outcome']} outcomes, {DRAWS} draws x {CHAINS} chains after {TUNE} tuning"
    )

    # multivariate, nutpie
    t_compile, t_sample, tree = time_nutpie(_build_alliance_model(data))
    nut_total, nut_rate = report("multivariate, nutpie", t_compile, t_sample, tree)

    # multivariate, PyMC's default sampler (chains in parallel processes)
    model = _build_alliance_model(data)
    t0 = time.perf_counter()
    with model:
        tree = pm.sample(
            draws=DRAWS,
            tune=TUNE,
            chains=CHAINS,
            nuts_sampler="pymc",
            random_seed=1,
            progressbar=False,
            compute_convergence_checks=False,
        )
    total = time.perf_counter() - t0
    sampling = float(tree["sample_stats"].attrs.get("sampling_time", total))
    pm_total, pm_rate = report("multivariate, PyMC NUTS", total - sampling, sampling, tree)

    # end to end with the cache: the second fit in this process
    md.stats.fit_alliance_model(cube, study.alliance, seed=1, draws=DRAWS, tune=TUNE)
    t0 = time.perf_counter()
    fit = md.stats.fit_alliance_model(cube, study.alliance, seed=2, draws=CACHED_DRAWS, tune=TUNE)
    cached = time.perf_counter() - t0
    ess, rhat = beta_diagnostics(fit.datatree)
    verdict = "OK" if ess >= 1000 and cached < 15 and rhat <= 1.01 else "MISS"
    print(
        f"{'fit_alliance_model, compiled model cached':38s} total {cached:6.1f} s "
        f"({CACHED_DRAWS} draws x {CHAINS}: sampling, "
        f"log-likelihood, diagnostics)  min ESS {ess:6.0f}  max R-hat {rhat:.3f}  "
        f"target ESS >= 1000 in < 15 s: {verdict}"
    )
    print(
        f"ratios: PyMC/nutpie total time {pm_total / nut_total:.2f}, nutpie/PyMC ESS per "
        f"second {nut_rate / pm_rate:.1f}; brms (~60 s)/cached fit {60 / cached:.1f}"
    )

    # univariate random intercept: nutpie vs bambi
    uni = _prepare_alliance_data(cube, study.alliance, outcomes=("bond",))
    t_compile, t_sample, tree = time_nutpie(_build_alliance_model(uni, multivariate=False))
    ours, _ = report("univariate, mne-dyad + nutpie", t_compile, t_sample, tree)
    import bambi

    df = pd.DataFrame(
        {
            "bond": uni.y.sel(outcome="bond").values,
            "dyad": uni.obs_dyad.values,
            "session": uni.session_c.values,
        }
    )
    terms = []
    for level in ("within", "between"):
        for seg in ("IM", "CB"):
            df[f"{level}_{seg}"] = uni.X.sel(level=level, segment=seg).values
            terms.append(f"{level}_{seg}")
    t0 = time.perf_counter()
    bmodel = bambi.Model("bond ~ " + " + ".join(terms) + " + session + (1|dyad)", df)
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    btree = bmodel.fit(
        draws=DRAWS,
        tune=TUNE,
        chains=CHAINS,
        random_seed=1,
        progressbar=False,
        compute_convergence_checks=False,
    )
    total = time.perf_counter() - t0
    sampling = float(btree["sample_stats"].attrs.get("sampling_time", total))
    theirs, _ = report(
        "univariate, bambi (PyMC NUTS)",
        t_build + total - sampling,
        sampling,
        btree,
        var_names=terms,
    )
    ours_mean = az.summary(tree, var_names=["beta"], kind="stats", round_to="none")["mean"]
    theirs_mean = az.summary(btree, var_names=terms, kind="stats", round_to="none")["mean"]
    print(
        f"ratio bambi/mne-dyad total time {theirs / ours:.2f}; largest difference of the "
        f"four beta means {np.max(np.abs(ours_mean.to_numpy() - theirs_mean.to_numpy())):.3f}"
        " (same data, different priors)"
    )


if __name__ == "__main__":
    main()
