"""
.. _ex-alliance-model:

===========================
The Bayesian alliance model
===========================

Does a session's synchrony go with a better alliance in that session? Bar-Kalifa
et al. (2019) found that within-dyad synchrony in imagery (IM) segments predicted
the client's bond rating, while cognitive-behavioural (CB) synchrony and the
task/goal scales showed no such link (their finding c). This example fits the
multivariate multilevel model behind that question to a simulated study whose
true effects are known, checks the sampler, reads the effects, contrasts IM with
CB, checks the fit against the data, compares models by LOO and saves the fit.
"""

# %%
# A study with a known answer
# ---------------------------
# :func:`mne_dyad.simulation.simulate_study` draws the alliance (bond, task and
# goal scales) after each session as
# ``intercept + beta * within-dyad IM coupling + dyad effect + noise``, with the
# within-dyad IM coupling standardised and, by default, ``beta = 0.3`` scale
# points for bond and 0 for task and goal. CB coupling has no effect. The dyad
# effects and residuals of the three scales are correlated (0.6 and 0.5), as
# ratings of one questionnaire are.
import os
import tempfile
import warnings
from pathlib import Path

import arviz as az
import mne
import numpy as np
import pandas as pd

import mne_dyad as md

quick = os.environ.get("MNE_DYAD_EXAMPLES_QUICK", "0") == "1"
mne.set_log_level("WARNING")
study = md.simulation.simulate_study(
    n_dyads=20 if quick else 24,
    n_sessions=5,
    n_usable=80 if quick else 100,
    duration=600.0 if quick else 900.0,
    seed=4,
)
print(study, "| true betas (scale points per SD):", study.params["betas"])
cube = md.synchrony_cube(study.raws, lag=10.0, window=30.0, step=15.0)

# %%
# The model
# ---------
# For dyad ``d``, session ``s`` and scale ``o`` (bond, task, goal),
# :func:`mne_dyad.stats.fit_alliance_model` fits
#
# .. math::
#
#    y_{dso} = \alpha_o + \sum_{g \in \{IM, CB\}} \left(
#              (\beta_{within,g,o} + b_{dgo}) P^w_{dsg} + \beta_{between,g,o} P^b_{dg}
#              \right) + f_o(session_{ds}) + u_{do} + e_{dso}
#
# - **Within/between split.** A session's synchrony ``P`` is split into a within
#   part (this session against its own dyad's average) and a between part (this
#   dyad against the others). The paper split at each dyad's observed mean,
#   ``P^w = P_ds - mean_s(P_ds)`` (:func:`mne_dyad.stats.within_between`). The
#   model's default, ``centering="latent"``, splits at a latent dyad mean instead:
#   the mean of four or five noisy sessions is itself noisy, so the between part
#   is that mean shrunk by its reliability, and the within part what is left
#   (see :ref:`methods-alliance`). The paper's question is about
#   ``beta_within``: in sessions where *this* dyad is more synchronous than
#   usual, is *its* alliance better? ``beta_between`` answers a different
#   question (are more synchronous dyads better allied?) and is estimated from
#   only as many values as there are dyads, each as reliable as its dyad mean.
# - **Time.** Each dyad's synchrony is detrended over its own sessions before the
#   split (``detrend=True``), and the alliance's common course over sessions
#   ``f_o`` is a restricted cubic spline (``session_covariate="auto"``: a spline
#   with 4 or more session numbers, a line with 2 or 3), so that synchrony and
#   alliance that both drift over the treatment do not make a within effect.
# - **Random slopes.** Each dyad's within slopes ``b_dgo`` vary around
#   ``beta_within`` (``random_slopes=True``), correlated with its intercept.
#   Without them, dyads that differ in how strongly synchrony goes with alliance
#   make the intervals of ``beta_within`` too narrow. These defaults, and latent
#   centring, were chosen by calibration on simulated EDA
#   (:ref:`methods-calibration`).
# - **Multivariate outcomes.** The dyad effects ``u_d`` and the residuals
#   ``e_ds`` are multivariate normal across the three scales, each covariance
#   with an LKJ prior on its correlations (shape 2) and half-normal SDs, so the
#   scales inform one another; ``u`` is non-centred for efficient sampling.
# - **Standardisation.** Synchrony (per segment type, before the split) and the
#   scales are standardised, so every beta is "SD of the scale per SD of
#   synchrony" and the default priors (normal, SD 1) are weakly informative.
#   The transform is stored in ``fit.data``.
# - **Missing data.** Sessions lacking IM or CB synchrony or any scale are left
#   out (complete cases, counted in the log); ``missing="impute"`` models them.
#
# We predict from ``x_leads``, the synchrony of lags where the client leads,
# which matches how the simulated therapists follow. Sampling uses nutpie: the
# first fit compiles the model (several seconds), then sampling 2 chains of 3,000
# draws (the default with random slopes) takes a few seconds. A fit of the same
# structure (same dyads, sessions and options) reuses the compiled model.
sampling = dict(tune=1000, chains=2, seed=1)
fit = md.stats.fit_alliance_model(cube, study.alliance, summary="x_leads", **sampling)
print(fit)

# %%
# Is the sampler to be trusted?
# -----------------------------
# ``fit.diagnostics`` holds the divergent transitions, the largest R-hat and the
# smallest bulk effective sample size of the betas and intercepts; the fit warns
# (and says what to change) when R-hat exceeds 1.01, ESS falls under 100 per
# chain, or any transition diverges. :meth:`~mne_dyad.stats.AllianceFit.summary`
# gives them per coefficient, with the posterior mean, SD, 89% equal-tailed
# interval and the posterior probability that the coefficient is positive.
print(fit.diagnostics)
summary = fit.summary()
with pd.option_context("display.width", 120, "display.max_columns", 10):
    print(summary.round(2))

# %%
# ``fit.datatree`` is the fit's ArviZ :class:`xarray.DataTree` (groups
# ``posterior``, ``sample_stats``, ``observed_data``, ``log_likelihood``), so any
# ArviZ plot works on it. A rank plot of the within-dyad IM betas: the left
# column shows each chain's marginal posterior, the right column how far the
# distribution of each chain's ranks departs from uniform. Chains that explore
# the same posterior overlap on the left and stay flat and close to zero on the
# right.
pc = az.plot_rank_dist(
    fit.datatree, var_names=["beta"], coords={"level": "within", "segment": "IM"}, compact=False
)
fig = pc.viz["figure"].item()
fig.set_size_inches(9, 5)
fig.set_layout_engine("constrained")

# %%
# :meth:`~mne_dyad.stats.AllianceFit.effects_table` puts the same in one line per
# effect and scale:
with pd.option_context("display.width", 140, "display.max_columns", 4):
    print(fit.effects_table())
fig = fit.plot_effects()

# %%
# Comparison with the simulated truth
# -----------------------------------
# The simulated betas are in scale points per SD of the *within-dyad coupling*;
# the model's are in SDs of the scale per SD of *synchrony*. Had synchrony
# measured coupling perfectly, the true bond effect in the model's units would be
# ``0.3 * SD(IM coupling) / SD(within-dyad IM coupling) / SD(bond)``, computed on
# the sessions the model used. A second, "oracle" fit gives the same model the
# true coupling instead of synchrony (same sessions, so nutpie reuses the compiled
# model and only samples).
used = dict(dyad=fit.data.obs_dyad, session=fit.data.obs_session)
true_im = study.truth.coupling.sel(segment="IM").sel(**used)
implied = {
    o: b
    * float(true_im.std())
    / study.params["sd_within_im_coupling"]
    / float(study.alliance[o].sel(**used).std())
    for o, b in study.params["betas"].items()
}
oracle_cube = study.truth[["coupling"]].where(cube.x_leads.notnull())
oracle = md.stats.fit_alliance_model(oracle_cube, study.alliance, summary="coupling", **sampling)
outcomes = list(implied)
compare_truth = pd.DataFrame(
    {
        "truth (model units)": implied,
        **{
            name: {o: f.summary().loc[f"beta[within, IM, {o}]", "mean"] for o in outcomes}
            for name, f in (("synchrony fit", fit), ("oracle fit", oracle))
        },
    }
)
print("beta[within, IM, scale]:")
print(compare_truth.round(2))
r = np.corrcoef(true_im.values, cube.x_leads.sel(segment="IM").sel(**used).values)[0, 1]
print(f"correlation of IM x_leads with the true IM coupling: {r:.2f}")

# %%
# The within-dyad IM effect on bond is found, and task and goal stay near zero.
# The synchrony fit's bond effect is smaller than the oracle's: synchrony
# measures coupling with error (the correlation printed above), and error in a
# predictor shrinks its slope towards zero (regression dilution).
# ``measurement_error=True`` models each session's synchrony as latent, observed
# with the standard error of its window values. Even the oracle misses the truth
# by sampling error: at this size (about 20 dyads), a rerun with another seed can
# miss the bond effect, as small trials can.
#
# Not every interval that excludes zero is an effect. The table holds 12 betas,
# 11 of them truly zero here; with 89% intervals, about one of those is expected
# to exclude zero by chance. The between-dyad betas are the most
# fragile: each rests on only as many values as there are dyads. Read the
# pre-registered coefficient (``beta[within, IM, bond]`` in the paper), not the
# best-looking one.
#
# IM against CB
# -------------
# Is the IM effect larger than the CB effect? The contrast
# ``beta[within, IM, o] - beta[within, CB, o]`` is computed draw by draw, so its
# interval accounts for the correlation of the two estimates.
print(fit.contrast("IM - CB").round(3))

# %%
# For bond, the IM effect is probably larger than the CB effect (``p_gt_0``);
# for task and goal there is no difference to speak of. This contrast, not the
# pair of separate results, is what a claim "IM synchrony matters, CB synchrony
# does not" needs: the difference between an effect that excludes zero and one
# that does not need not itself be credible (Gelman & Stern 2006).

# %%
# Does the model reproduce the data?
# ----------------------------------
# :meth:`~mne_dyad.stats.AllianceFit.posterior_predictive` draws replicated
# alliance ratings from the posterior and compares statistics of the observed
# ratings (mean, SD, extremes, the SD of the dyad means) with their replicated
# distribution, in scale points. ``p_value`` = P(replicated >= observed); values
# near 0 or 1 flag a feature the model misses.
ppc = fit.posterior_predictive(seed=2)
print(ppc.loc["bond"].round(2))
print(f"p-values of all {len(ppc)} checks: {ppc.p_value.min():.2f} to {ppc.p_value.max():.2f}")

# %%
# None of the p-values is extreme (with 15 checks, one or two near 0.05 or 0.95
# would be expected by chance): the model reproduces these features.
# The replications are stored in ``fit.datatree`` too, so ArviZ draws the
# distribution of each (standardised) scale, in black, over those of 50
# replicated data sets, in blue:
pc = az.plot_ppc_dist(fit.datatree, kind="kde", num_samples=50, cols=["outcome"])
fig = pc.viz["figure"].item()
fig.set_size_inches(9, 2.8)
fig.set_layout_engine("constrained")
for ax in pc.viz["plot"].values:
    ax.set_xlabel("Rating (SD units)")

# %%
# Comparing models by LOO
# -----------------------
# Does IM synchrony predict the alliance better than CB synchrony? We fit a
# model with IM synchrony only and one with CB synchrony only, and compare them
# with the full model by approximate leave-one-session-out cross-validation
# (PSIS-LOO; Vehtari et al. 2017) with
# :meth:`~mne_dyad.stats.AllianceFit.compare`. LOO compares models of the *same*
# observations: ``complete_on=("IM", "CB")`` keeps exactly the sessions of the
# full model. Each new model structure costs a few seconds of compilation, so
# the quick build of this page fits the CB-only model only.
reduced = {"CB only": ("CB",)} if quick else {"IM only": ("IM",), "CB only": ("CB",)}
fits = {
    name: md.stats.fit_alliance_model(
        cube,
        study.alliance,
        summary="x_leads",
        segments=segments,
        complete_on=("IM", "CB"),
        **sampling,
    )
    for name, segments in reduced.items()
}
with warnings.catch_warnings():  # the n_high_k column says the same
    warnings.filterwarnings("ignore", message="PSIS-LOO is unreliable")
    loo = fit.compare(list(fits.values()), names=["IM + CB", *fits])
print(loo[["rank", "elpd", "se", "elpd_diff", "dse", "weight", "n_high_k"]])
print(f"({fit.data.sizes['obs']} sessions per model)")
with warnings.catch_warnings():  # Pareto k: counted in n_high_k above
    warnings.simplefilter("ignore")
    elpd = {n: float(az.loo(f.datatree).elpd) for n, f in {"IM + CB": fit, **fits}.items()}
best = max(elpd.values())
unrounded = "; ".join(f"{n} {e:.1f} ({e - best:+.1f})" for n, e in elpd.items())
print("unrounded elpd (diff):", unrounded)

# %%
# Higher ``elpd`` (expected log predictive density of a left-out session) is
# better. ``elpd_diff`` is the distance to the best model, ``dse`` its standard
# error, and ``weight`` the stacking weight. ArviZ rounds each number in the
# table to the precision its standard error supports: ``elpd`` by its ``se``
# (here to tens) and ``elpd_diff`` by its ``dse`` (to tens, too, once ``dse``
# reaches 5). Each is rounded on its own from unrounded values, so the shown
# ``elpd_diff`` need not equal the difference of the shown ``elpd`` values; the
# line under the table gives each model's unrounded ``elpd`` and its distance to
# the best. The models with IM synchrony rank above the CB-only model. Read each
# difference against its standard error: differences under about 4 are small,
# larger ones count when they are several times ``dse`` (Sivula, Magnusson,
# Matamoros & Vehtari, arXiv:2008.10296). With about a hundred sessions, LOO
# separates models only when effects are large.
#
# PSIS-LOO approximates refitting without each session. A session's Pareto k says
# how far to trust the approximation for it; above 0.7 it is unreliable, and
# ``n_high_k`` counts those sessions per model (mne-dyad also warns). Some
# sessions exceed it, because each dyad's three random effects rest on its few
# sessions, so leaving one out moves them a lot. Treat such a ranking as
# indicative; for a firm answer, refit by K-fold cross-validation over dyads, or
# read the betas above.
#
# Saving and reading a fit
# ------------------------
# :meth:`~mne_dyad.stats.AllianceFit.to_netcdf` writes the posterior tree, the
# model data (with the standardisation) and every option to one netCDF file;
# :func:`mne_dyad.stats.read_alliance_fit` restores an
# :class:`~mne_dyad.stats.AllianceFit` with the same tables.
with tempfile.TemporaryDirectory() as tmp:
    fname = fit.to_netcdf(Path(tmp) / "alliance_fit.nc")
    back = md.stats.read_alliance_fit(fname)
    same = np.allclose(back.summary()["mean"], summary["mean"])
    print(f"{fname.name}: {fname.stat().st_size / 1e6:.1f} MB, same summary: {same}")
print(sorted(back.datatree.children))
