"""
.. _ex-reproduce-2019:

==========================================
Reproducing the 2019 analysis step by step
==========================================

Bar-Kalifa et al. (2019) recorded client and therapist electrodermal activity (EDA)
through whole sessions of an imagery-based treatment for test anxiety (31 dyads,
128 sessions with usable data), coded each session's imagery (IM) and
cognitive-behavioural (CB) segments, and asked whether physiological synchrony
relates to the client's rating of the alliance after the session. They reported
three findings:

(a) synchrony in IM and CB segments is above chance;
(b) synchrony varies mostly between sessions, less between dyads;
(c) session-level (within-dyad) IM synchrony predicts the bond scale of the
    alliance, while CB synchrony and the task and goal scales show no such link.

The trial's recordings are not public, so this example simulates a study to the
trial's design with :func:`mne_dyad.simulation.simulate_study` and runs every step
on it. Because the simulation knows its truth (how strongly the therapist's EDA
follows the client's in every segment, and how the alliance depends on it), each
finding is shown next to what the data were built to contain. Each finding is
shown twice: from raw synchrony, as the paper computed it, and from
chance-corrected synchrony (each session's excess over its own chance level), the
default of ``mne-dyad run``; the summary at the end says which conclusions
survive the correction.
"""

# %%
# The study
# ---------
# The simulation follows the trial's design: 31 dyads with up to six sessions, 128
# of them with usable recordings; 50-minute sessions at 8 Hz with IM and CB segments
# of several minutes. (The quick build of these pages, ``MNE_DYAD_EXAMPLES_QUICK=1``,
# simulates 12 dyads with 20-minute sessions and samples two chains instead, so
# its estimates are noisier.)
# Coupling (the share of
# the client's skin conductance responses the therapist follows, 3 s later) has a
# dyad part and a larger session part, and the bond rating rises with a session's
# IM coupling relative to the dyad's usual level. Task and goal do not depend on it,
# and nothing depends on CB coupling.
#
# One more thing is built in, because every EDA study has it: sessions differ in
# arousal. How often both partners produce skin conductance responses varies from
# session to session (SD 0.5 of the log rate), and the client's bond rating is a
# little higher in more aroused sessions (0.3 scale points per SD), for reasons that
# have nothing to do with synchrony.
import os

import matplotlib.pyplot as plt
import mne
import numpy as np
import pandas as pd
import xarray as xr

import mne_dyad as md

quick = os.environ.get("MNE_DYAD_EXAMPLES_QUICK", "0") == "1"
mne.set_log_level("WARNING")
design = dict(n_dyads=12, n_sessions=4, n_usable=40, duration=1200.0) if quick else {}
study = md.simulation.simulate_study(
    seed=2019, scr_rate_sd=0.5, arousal_alliance={"bond": 0.3}, **design
)
# four chains (two in the quick build): R-hat compares chains, and four make its verdict
# more reliable than two
sampling = dict(draws=1000, tune=1000, chains=2 if quick else 4, seed=1)
# the alliance model's own default draws: 3,000 with its default random slopes
model_sampling = {**sampling, "draws": None}
print(study)
print("true mean coupling per segment:", study.params["coupling_mean"])
print("true betas (bond/task/goal per SD of within-dyad IM coupling):", study.params["betas"])

# %%
# One session: both people's EDA with the coded segments shaded.
raw = study.raws[next(iter(study.raws))]
fig = md.viz.plot_dyad(raw)

# %%
# Synchrony in every segment
# --------------------------
# Windowed cross-lagged correlation: 30 s windows moved by 15 s, lags up to +-10 s
# as in the companion paper on the trial (Prinz et al., 2021), absolute Fisher z
# averaged over lags and windows (``all_lags``). The cube has one value per dyad,
# session and segment type; sessions without data are NaN.
cube = md.synchrony_cube(study, lag=10.0, window=30.0, step=15.0)
fig = md.viz.plot_cube(cube, "all_lags")

# %%
# The truth as a cube: the same dims, the true coupling in place of synchrony, NaN
# where a session has no data. It serves as an "oracle" below: the best any
# synchrony index could do.
usable = study.truth.usable.astype(bool) & np.isfinite(cube.all_lags)
oracle = xr.Dataset({"all_lags": study.truth.coupling.where(usable)})
obs, true = cube.all_lags.values, oracle.all_lags.values
ok = np.isfinite(obs) & np.isfinite(true)
print(f"synchrony vs true coupling: r = {np.corrcoef(obs[ok], true[ok])[0, 1]:.2f}")

# %%
# Finding (a): synchrony is above chance
# --------------------------------------
# Each real dyad's synchrony is compared with surrogate pairs that could not have
# been coupled (Moulder et al., 2018). The paper used pseudo-dyads (the client with
# the therapists of other dyads); here the therapist's signal is circularly shifted
# against the client's by at least 20 s, which keeps both partners' own signals,
# their arousal included, in every surrogate: the kind the chance correction below
# needs (:ref:`methods-chance-corrected` compares the kinds). The group question is
# answered by a multilevel model of the excess over chance,
# ``d = delta + u_dyad + e``. One set of surrogates serves the test and the
# correction.
comparison = md.surrogates.compare_with_surrogates(
    study,
    kind="circular_shift",
    summary=["all_lags"],
    n_surrogates=50 if quick else 100,
    seed=1,
    lag=10.0,
    window=30.0,
    step=15.0,
)
chance = md.stats.fit_chance_model(comparison.sel(summary="all_lags"), **sampling)
fig = md.viz.plot_surrogates(chance)

# %%
# The per-session effect sizes follow the true coupling of each session:
fig, ax = plt.subplots(figsize=(5, 3.5), layout="constrained")
for seg, color in zip(["IM", "CB"], ["C3", "C0"], strict=True):
    es = chance.es.sel(segment=seg).values.ravel()
    c = oracle.all_lags.sel(segment=seg).values.ravel()
    keep = np.isfinite(es) & np.isfinite(c)
    ax.scatter(c[keep], es[keep], s=12, color=color, label=seg, alpha=0.7)
ax.axhline(0, color="k", lw=0.8)
ax.set(xlabel="true coupling (share of responses followed)", ylabel="ES vs pseudo-dyads (SD)")
ax.legend(title="segment")

finding_a = pd.DataFrame(
    {
        "delta": chance.delta_mean.to_series(),
        "89% interval": [
            f"[{lo:+.3f}, {hi:+.3f}]"
            for lo, hi in zip(chance.delta_lower.values, chance.delta_upper.values, strict=True)
        ],
        "P(delta>0)": chance.p_delta_gt_0.to_series(),
        "sessions with p<0.05": (chance.p < 0.05).sum(("dyad", "session")).to_series(),
        "sessions": np.isfinite(chance.p).sum(("dyad", "session")).to_series(),
        "true mean coupling": pd.Series(study.params["coupling_mean"]),
    }
).round(3)
finding_a

# %%
# Chance-corrected synchrony
# --------------------------
# The same surrogates give every session its own chance level. Raw synchrony mixes
# coupling with that level, which falls as arousal rises (more responses, lower
# chance ``|z|``); the excess over it, here in surrogate SDs (``all_lags_es``),
# should not. The within-dyad correlations with
# the session's arousal and with the true coupling tell how each behaves here:
corrected = md.surrogates.chance_corrected(cube, comparison=comparison)
log_rate = np.log(study.truth["scr_rate"])


def within_r(values, other):
    """Correlation of the dyad-centred IM values with the dyad-centred ``other``."""
    v = values.sel(segment="IM")
    o = other.reindex_like(v)
    v, o = (v - v.mean("session")).values.ravel(), (o - o.mean("session")).values.ravel()
    keep = np.isfinite(v) & np.isfinite(o)
    return np.corrcoef(v[keep], o[keep])[0, 1]


true_im = oracle.all_lags.sel(segment="IM")
arousal_table = pd.DataFrame(
    {
        "r with log SCR rate": [
            within_r(cube.all_lags, log_rate),
            within_r(corrected.all_lags_es, log_rate),
        ],
        "r with true coupling": [
            within_r(cube.all_lags, true_im),
            within_r(corrected.all_lags_es, true_im),
        ],
    },
    index=["raw all_lags", "all_lags_es"],
).round(2)
arousal_table

# %%
# Over replicated studies with no coupling at all (:ref:`methods-chance-corrected`),
# raw IM synchrony correlates with the session's log SCR rate at about -0.5 within
# dyads, and the effect size over circular shifts at about 0.

# %%
# Finding (b): synchrony varies mostly between sessions
# -----------------------------------------------------
# Per segment type, ``true sync = mu + u_dyad + e_session``: the share of variance
# between dyads (``icc_dyad``) and between sessions of the same dyad. Each session's
# synchrony is observed with sampling error (its ``all_lags_se``), which the default
# decomposition models; the ``*_observed`` columns are the shares without that
# correction, as the paper computed them, and ``error_share`` is the sampling
# error's part of the observed variance. The same decomposition of the *true*
# coupling (no sampling error) shows what the data were built with.
variance = md.stats.variance_decomposition(cube, **sampling)
variance_excess = md.stats.variance_decomposition(corrected, summary="all_lags_es", **sampling)
variance_true = md.stats.variance_decomposition(oracle, measurement_error=False, **sampling)
fig = md.viz.plot_variance(variance_excess)
shares = md.stats.variance_table(variance)["mean"].unstack("component")
shares_excess = md.stats.variance_table(variance_excess)["mean"].unstack("component")
shares_true = md.stats.variance_table(variance_true)["mean"].unstack("component")
columns = ["icc_dyad", "session_share", "error_share", "session_share_observed"]
finding_b = pd.concat(
    {
        "raw synchrony": shares[columns],
        "chance-corrected (es)": shares_excess[columns],
        "true coupling": shares_true[["icc_dyad", "session_share"]],
    },
    axis=1,
    names=["", "component"],
).round(2)
finding_b

# %%
# Finding (c): within-dyad IM synchrony predicts bond
# ---------------------------------------------------
# The three alliance scales are modelled jointly on within-dyad and between-dyad
# synchrony in IM and CB segments, with correlated dyad intercepts and slopes,
# correlated residuals, each dyad's synchrony detrended over its sessions and a
# spline for the alliance's course (the defaults; standardised: SD of the scale per
# SD of synchrony). The same
# model fit on the true coupling gives the effects the data contain; the estimates
# from synchrony are smaller (attenuated), because synchrony measures coupling
# with error. The model is fit twice: on raw synchrony (the paper's way) and on
# the chance-corrected effect size ``all_lags_es``.
fit_raw = md.stats.fit_alliance_model(cube, study.alliance, **model_sampling)
fit = md.stats.fit_alliance_model(
    corrected, study.alliance, summary="all_lags_es", **model_sampling
)
fit_true = md.stats.fit_alliance_model(oracle, study.alliance, **model_sampling)
print(fit.effects_table().to_string())
fig = md.viz.plot_alliance_effects(fit)

# %%
# Estimates next to the truth, and the IM - CB contrast of the within effect:
table = fit.summary()
table_raw = fit_raw.summary()
table_true = fit_true.summary()


def interval(t):
    return [f"[{lo:+.2f}, {hi:+.2f}]" for lo, hi in zip(t.ci_lower, t.ci_upper, strict=True)]


finding_c = pd.DataFrame(
    {
        "raw": table_raw["mean"],
        "raw 89% interval": interval(table_raw),
        "es": table["mean"],
        "es 89% interval": interval(table),
        "from true coupling": table_true["mean"],
    }
).round(2)
finding_c.loc[[i for i in finding_c.index if "within" in i]]

# %%
# Read the table as the 2019 paper did: the within-dyad IM effect on bond is the
# only one built in. Arousal pushes bond up in sessions where raw synchrony is
# low, so raw synchrony carries a negative bias into every within effect on bond,
# IM and CB alike; the chance-corrected effect size should not (see the summary
# below for what this study gives). With five null effects and 89% intervals, at least one
# interval excludes zero in about every other study (1 - 0.89^5 = 0.44), and one
# that only just reaches zero is more common still. The
# between-dyad effects rest on few dyads (31 in the trial), each known through the
# mean of about four noisy sessions, which says little about how synchronous the
# dyad is. The default latent centring treats those means as unknown, so the
# between intervals are wide: as wide as the data leave them. Their truth here is
# zero on that footing: the simulation makes bond follow each session's coupling
# relative to the dyad's true mean (``within_center="latent"``, the simulator's
# default), as multilevel models assume, so a session's bond depends on that
# session alone. The observed means of four sessions then carry part of the within
# effect, and ``centering="observed"``, the paper's split, pulls the between beta
# toward the within beta (Lüdtke et al., 2008) inside narrower intervals: in the
# calibration's studies of the trial's shape its between beta for bond averaged +0.20
# where the truth is 0, and its interval excluded zero in 26% of them (latent
# centring: +0.01, and 0%). The next cell fits both centrings to this one study,
# where the draw of one study may show the pull or hide it. Had bond followed
# coupling relative to the dyad's mean over the
# sessions that have EDA (``within_center="usable"``), zero would be the truth on
# observed centring's footing instead; latent centring then leaves part of each
# dyad's level in its within part, and its between betas lean away from the within
# effect (-0.23 on average in the calibration's studies of this shape), inside
# intervals wide enough to cover zero in almost every study. The calibration
# measures both (see
# :ref:`methods-calibration`). The ``contextual`` rows of the summary give between
# minus within.
fit_observed = md.stats.fit_alliance_model(
    corrected, study.alliance, summary="all_lags_es", centering="observed", **model_sampling
)
table_observed = fit_observed.summary()
between = [i for i in table.index if i.startswith("beta[between")]
pd.DataFrame(
    {
        "latent (default)": table.loc[between, "mean"],
        "latent 89% interval": interval(table.loc[between]),
        "observed": table_observed.loc[between, "mean"],
        "observed 89% interval": interval(table_observed.loc[between]),
    }
).round(2)

# %%
# The claim "IM, not CB" is a claim about a difference, so it is tested by the
# contrast of the two within effects:
contrast = fit.contrast("IM - CB", level="within")
contrast.round(2)

# %%
# The same effect in other units
# ------------------------------
# The betas above are in SDs of the scale per SD of synchrony. The 2019 paper
# reported a multilevel regression on the raw values: scale points per unit of
# synchrony, the model's ``units="raw"``. ``units="within_sd"`` gives scale points
# per typical session-to-session step of a dyad's synchrony, and ``partial_r`` the
# within-dyad correlation, which needs no unit at all. The paper's own coefficients
# are not shipped with mne-dyad, so they are not printed here; to set them side by
# side, read the raw-unit row of the raw-synchrony fit.
target = "beta[within, IM, bond]"
units = pd.DataFrame(
    {
        u: fit_raw.summary(units=u).loc[target, ["mean", "ci_lower", "ci_upper"]]
        for u in ("standardized", "raw", "within_sd")
    }
).T.round(3)
units["unit"] = [fit_raw.summary(units=u).attrs["unit_description"] for u in units.index]
print(units.to_string())
print(
    f"partial within-dyad r: {table_raw.loc[target, 'partial_r']:.2f} (raw synchrony), "
    f"{table.loc[target, 'partial_r']:.2f} (all_lags_es)"
)


# %%
# Summary: the three findings
# ---------------------------
# Each row states the paper's finding, what the simulation built in, and what the
# pipeline recovered from the simulated recordings.
def recovered_c(t):
    bond = t.loc["beta[within, IM, bond]"]
    others = t.loc[[i for i in t.index if "within" in i and "IM, bond" not in i]]
    cb_bond = t.loc["beta[within, CB, bond]"]
    return [
        f"beta {bond['mean']:+.2f} [{bond.ci_lower:+.2f}, {bond.ci_upper:+.2f}]",
        f"{int(((others.ci_lower < 0) & (others.ci_upper > 0)).sum())} of {len(others)} "
        f"intervals contain 0 (CB -> bond {cb_bond['mean']:+.2f} "
        f"[{cb_bond.ci_lower:+.2f}, {cb_bond.ci_upper:+.2f}])",
    ]


def recovered_b(sh):
    return [
        f"session share {sh.loc[seg, 'session_share']:.2f} (observed "
        f"{sh.loc[seg, 'session_share_observed']:.2f})"
        for seg in ("IM", "CB")
    ]


excess_delta = [
    f"mean excess {float(corrected.all_lags_excess.sel(segment=seg).mean()):+.3f}"
    for seg in ("IM", "CB")
]
summary = pd.DataFrame(
    {
        "2019 finding": [
            "(a) IM synchrony above chance",
            "(a) CB synchrony above chance",
            "(b) session share > dyad share (IM)",
            "(b) session share > dyad share (CB)",
            "(c) within IM synchrony -> bond",
            "(c) no other within effect",
        ],
        "built into the simulation": [
            f"mean coupling {study.params['coupling_mean']['IM']:.2f}",
            f"mean coupling {study.params['coupling_mean']['CB']:.2f}",
            f"session share {shares_true.loc['IM', 'session_share']:.2f}",
            f"session share {shares_true.loc['CB', 'session_share']:.2f}",
            f"beta {table_true.loc['beta[within, IM, bond]', 'mean']:+.2f}",
            "beta 0 for the other 5",
        ],
        "raw synchrony": [
            f"delta {float(chance.delta_mean.sel(segment='IM')):+.3f}, "
            f"P>0 = {float(chance.p_delta_gt_0.sel(segment='IM')):.2f}",
            f"delta {float(chance.delta_mean.sel(segment='CB')):+.3f}, "
            f"P>0 = {float(chance.p_delta_gt_0.sel(segment='CB')):.2f}",
            *recovered_b(shares),
            *recovered_c(table_raw),
        ],
        "chance-corrected (es)": [
            *excess_delta,
            *recovered_b(shares_excess),
            *recovered_c(table),
        ],
    }
)
summary

# %%
# Which conclusions survive the correction? In this simulation, (a) is the same
# finding either way (the chance test *is* the mean excess). For (b), the
# ``observed`` shares, the paper's computation, put most variance between
# sessions for raw and corrected synchrony alike, because sampling error counts
# as session variance there; the shares of the true variance are the honest
# answer, and they come with wide intervals. For (c), raw synchrony carries the
# arousal confound: compare the raw and es columns of the within effects, above.
# What survives on real data can only be told by running both: ``mne-dyad run``
# uses the effect size by default, and ``[model] summary = "all_lags"`` the raw
# values.

# %%
# The same analysis on your data: read the sessions with :func:`mne_dyad.io.read_study`
# (or ``mne-dyad run manifest.csv --out results/``), the alliance ratings with
# :func:`mne_dyad.alliance.read_sai`, and run the calls above unchanged.
# :func:`mne_dyad.report.make_report` collects every figure into one HTML page
# (save it with ``report.save("report.html")``):
report = md.report.make_report(
    corrected, raws=study.raws, surrogates=chance, variance=variance_excess, fit=fit, n_traces=6
)
print(report)
