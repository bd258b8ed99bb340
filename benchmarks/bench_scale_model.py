"""The alliance model at 1,000 dyads and 5,000 sessions: time to bulk ESS >= 1,000.

Issue 15, point 5. Data of the model's own form (:func:`mne_dyad.simulation.
simulate_model_data`, 1,000 dyads x 5 sessions, 3 outcomes, 2 segments; this is a
speed measurement, not a calibration). The fit with one within slope for all dyads
(:func:`mne_dyad.stats.fit_alliance_model` with ``FORM``, 0.1's default model; 2
chains, 1,000 tuning steps) is run in
two forms in this one process: with the dyad intercepts integrated out of the
likelihood and drawn back afterwards (the package's form for models this large),
and with them sampled (the full form, as before). Each form is run once to compile,
then with 1,000, 2,000 and 4,000 draws, stopping at the first whose smallest bulk
ESS over the betas reaches 1,000. Each line prints the wall time of the fit
(sampling, drawing the intercepts back, log-likelihood, diagnostics), the smallest
bulk ESS of the betas and of all coefficients the fit checks (betas, alphas), the
largest R-hat, and ESS per second; the last lines give the ratios.

``--form default`` fits the package's defaults instead (random slopes, latent
centring, detrending, the automatic session term: the full form at any size),
with its default 3,000 draws and then 6,000.

Run: python benchmarks/bench_scale_model.py [--n-dyads 1000] [--n-sessions 5]
[--form 0.1|default]
"""

import argparse
import time
import warnings

import arviz as az
import mne

import mne_dyad as md
from mne_dyad.stats import _alliance_graph

#: The model measured: intercept-only dyad effects (the form the integration takes),
#: no detrending, a linear session term. The default since 0.2 has random slopes,
#: which keep the full form at any size.
FORM = {
    "random_slopes": False,
    "detrend": False,
    "session_covariate": "linear",
    "centering": "observed",
}


def _time_to_target(cube, alliance, target, form=FORM, schedule=(1000, 2000, 4000)):
    """Fit with more draws until every beta has bulk ESS >= target: (s, ESS/s)."""
    t0 = time.perf_counter()
    md.stats.fit_alliance_model(
        cube, alliance, **form, seed=1, draws=100, tune=100, verbose="error"
    )
    print(f"  first fit (compiles; 100 draws): {time.perf_counter() - t0:.1f} s")
    for draws in schedule:
        t0 = time.perf_counter()
        fit = md.stats.fit_alliance_model(
            cube, alliance, **form, seed=2, draws=draws, tune=1000, verbose="error"
        )
        draws = fit.params["draws"]
        seconds = time.perf_counter() - t0
        summ = az.summary(fit.datatree, var_names=["beta"], kind="diagnostics", round_to="none")
        ess = float(summ.ess_bulk.min())
        print(
            f"  {draws:5d} draws: {seconds:6.1f} s  min beta ESS {ess:6.0f}  "
            f"min ESS (betas, alphas) {fit.diagnostics['min_ess_bulk']:6.0f}  "
            f"max R-hat {fit.diagnostics['max_rhat']:.3f}  divergences "
            f"{fit.diagnostics['divergences']}  beta ESS/s {ess / seconds:5.1f}",
            flush=True,
        )
        if ess >= target:
            print(f"  time to bulk ESS >= {target} on every beta: {seconds:.1f} s")
            return seconds, ess / seconds
    print(f"  bulk ESS >= {target} not reached with {draws} draws")
    return float("nan"), ess / seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-dyads", type=int, default=1000)
    parser.add_argument("--n-sessions", type=int, default=5)
    parser.add_argument("--target", type=int, default=1000)
    parser.add_argument("--form", choices=("0.1", "default"), default="0.1")
    args = parser.parse_args()
    mne.set_log_level("ERROR")
    warnings.simplefilter("ignore")
    cube, alliance = md.simulation.simulate_model_data(
        n_dyads=args.n_dyads, n_sessions=args.n_sessions, seed=0
    )
    n_sessions = int(cube["all_lags"].isel(segment=0).notnull().sum())
    print(f"{args.n_dyads} dyads, {n_sessions} sessions, 3 outcomes, 2 segments, 2 chains")
    if args.form == "default":
        print("the package's default model (random slopes, latent centring)")
        _time_to_target(cube, alliance, args.target, form={}, schedule=(None, 6000))
        return
    results = {}
    for name, flag in (("intercepts integrated out", "always"), ("intercepts sampled", False)):
        _alliance_graph._INTEGRATE_DYADS = flag
        print(name)
        results[name] = _time_to_target(cube, alliance, args.target)
    (t_int, r_int), (t_full, r_full) = results.values()
    print(
        f"time to ESS >= {args.target}: sampled / integrated = {t_full / t_int:.1f}; "
        f"beta ESS per second at the last fit: integrated / sampled = {r_int / r_full:.1f}"
    )


if __name__ == "__main__":
    main()
