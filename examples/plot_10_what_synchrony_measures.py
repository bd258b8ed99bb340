"""
.. _ex-what-synchrony-measures:

=========================
What synchrony measures
=========================

A session's synchrony value is a number with a margin of error, and not all of it
is coupling. Before a value enters a model, four questions deserve an answer:

1. **Sampling error.** How far would the value move in another stretch of the
   same session, with the same coupling?
2. **Reliability.** How much of the spread of values across sessions is real
   difference, and how much is that error?
3. **Noise floor.** What would the study show if no dyad were coupled at all?
4. **Arousal.** Does the value follow coupling, or how often the partners sweat?

Each section answers one with simulated data, where the truth is known.
"""

# %%
# Sampling error: replicates of one session
# -----------------------------------------
# We simulate the same session (one true coupling, 0.25) many times and compute
# windowed cross-lagged correlation (WCLC, 30 s windows moved by 15 s, lags up to
# +-10 s) in its imagery (IM) segment. The spread of the replicates is the real
# sampling error. The textbook standard error, ``sd / sqrt(n_windows)``, treats the
# windows as independent; neighbouring windows share most of their samples, so it
# is too small. mne-dyad's ``all_lags_se`` allows for that (see
# :ref:`methods-sampling-error`).
import os

import matplotlib.pyplot as plt
import mne
import numpy as np
import pandas as pd

import mne_dyad as md

quick = os.environ.get("MNE_DYAD_EXAMPLES_QUICK", "0") == "1"
mne.set_log_level("WARNING")

segments = [("IM", 60.0, 480.0), ("CB", 600.0, 300.0), ("IM", 960.0, 300.0)]
values, ses, naive = [], [], []
for seed in range(40 if quick else 120):
    raw = md.simulation.simulate_session(
        duration=1300.0, coupling=0.25, segments=segments, seed=100 + seed
    )
    res = md.synchrony.compute_synchrony(raw, segments="IM", arousal=False)
    values.append(float(res.all_lags[0]))
    ses.append(float(res.all_lags_se[0]))
    # the naive SE of the same windows: their SD over sqrt(n)
    x, y = raw.get_data() * 1e6
    sfreq = raw.info["sfreq"]
    windows = [
        md.synchrony.wclc(
            x[int(a["onset"] * sfreq) : int((a["onset"] + a["duration"]) * sfreq)],
            y[int(a["onset"] * sfreq) : int((a["onset"] + a["duration"]) * sfreq)],
            sfreq,
            lag=10,
            window=30,
            step=15,
        ).mean("lag")
        for a in raw.annotations
        if a["description"] == "IM"
    ]
    w = np.concatenate([v.values for v in windows])
    naive.append(w.std(ddof=1) / np.sqrt(w.size))

spread = np.std(values, ddof=1)
table = pd.Series(
    {
        "SD of the replicates": spread,
        "RMS of all_lags_se (overlap-aware)": np.sqrt(np.mean(np.square(ses))),
        "RMS of sd / sqrt(n) (naive)": np.sqrt(np.mean(np.square(naive))),
    }
).round(4)
print(table)

fig, ax = plt.subplots(layout="constrained", figsize=(6, 3.5))
ax.hist(values, bins=15, color="0.7")
centre = np.mean(values)
for se, colour, label in (
    (np.sqrt(np.mean(np.square(ses))), "C0", "mean +- 1 overlap-aware SE"),
    (np.sqrt(np.mean(np.square(naive))), "C3", "mean +- 1 naive SE"),
):
    ax.axvspan(centre - se, centre + se, color=colour, alpha=0.25, label=label)
ax.set(xlabel="IM all_lags of one replicate", ylabel="replicates")
ax.set_title(f"{len(values)} replicates of one session: SD {spread:.3f}")
ax.legend(fontsize="small")

print(
    f"spread / overlap-aware SE: {spread / table.iloc[1]:.2f}; spread / naive SE: "
    f"{spread / table.iloc[2]:.2f}"
)

# %%
# The overlap-aware standard error comes much closer to the spread of the
# replicates than the naive one (in the calibration of
# :ref:`methods-sampling-error`, over 240 replicates, the ratio was 0.99-1.04
# against 1.14-1.23 for the naive SE; a few dozen replicates give a noisy
# ratio). Models that take sampling error into account (the variance
# decomposition, the alliance model with ``measurement_error=True``) use the
# overlap-aware one; the variance decomposition pools it over cells of the same
# segment type by their number of windows, because one cell's SE, from a few
# dozen windows, is itself noisy (:ref:`methods-variance`).
#
# Reliability: how much of the spread is real
# -------------------------------------------
# Across the sessions of a study, values differ because coupling differs and
# because each carries sampling error. Split-half reliability separates the two:
# each cell's windows are split into two halves (alternating blocks of windows
# that share few samples, see :ref:`methods-reliability`), and the agreement of the
# halves across cells gives the share of true variance. The study below has
# coupling that varies between dyads and sessions, like the 2019 trial, and
# arousal (the rate of skin conductance responses, shared by both partners) that
# varies from session to session but has nothing to do with coupling.
study = md.simulation.simulate_study(
    n_dyads=12 if quick else 20,
    n_sessions=4,
    n_usable=44 if quick else 76,
    duration=900.0 if quick else 1500.0,
    scr_rate_sd=0.5,
    seed=10,
)
cube = md.synchrony_cube(study)
pooled = cube.all_lags_reliability_pooled.to_series().round(2)
print("split-half reliability of all_lags per segment:", pooled.to_dict())

fig, ax = plt.subplots(layout="constrained", figsize=(6, 3.5))
for seg, colour in (("IM", "C0"), ("CB", "C1")):
    sel = cube.sel(segment=seg)
    ax.scatter(
        sel.n_windows.values.ravel(),
        sel.all_lags_reliability.values.ravel(),
        s=12,
        color=colour,
        label=f"{seg} (pooled {pooled[seg]:.2f})",
    )
ax.set(xlabel="windows in the cell", ylabel="reliability of the cell's value", ylim=(0, 1))
ax.set_title("Short segments are less reliable")
ax.legend(fontsize="small")

# %%
# A cell's reliability grows with its number of windows: a 5-minute segment is
# mostly noise when sessions differ little. With reliability well below 1, an
# observed correlation with anything (alliance included) is attenuated, and a
# variance decomposition that ignores sampling error calls the noise "session
# variance".
#
# Arousal: what raw synchrony follows
# -----------------------------------
# In this study the coupling and the arousal vary independently. A measure of
# coupling should follow the true coupling within a dyad and ignore the arousal.
# Raw ``all_lags`` (the mean absolute Fisher z over lags) has a chance level that
# falls as the partners respond more often, so it also follows arousal, against
# it. Chance correction subtracts each cell's own chance level, estimated from
# surrogates: the therapist's signal circularly shifted against the client's, so
# every surrogate keeps both partners' own signals and their arousal
# (:ref:`methods-chance-corrected`). ``all_lags_es`` is the excess in surrogate SDs.
corrected = md.surrogates.chance_corrected(
    cube, study, n_surrogates=40 if quick else 100, seed=1, summaries=["all_lags"]
)
rate = np.log(study.truth["scr_rate"])
coupling = study.truth["coupling"].sel(segment="IM")


def centred(da):
    """Each dyad's IM values minus their mean (within-dyad variation)."""
    da = da.sel(segment="IM") if "segment" in da.dims else da
    return da - da.mean("session")


rows = {}
fig, axes = plt.subplots(1, 2, layout="constrained", figsize=(8, 3.5), sharey=False)
summaries = (("raw all_lags", cube.all_lags), ("all_lags_es", corrected.all_lags_es))
for ax, (name, da) in zip(axes, summaries, strict=True):
    v = centred(da)
    r_rate, c_true, v_flat = centred(rate).reindex_like(v), centred(coupling), v.values.ravel()
    ok = np.isfinite(v_flat) & np.isfinite(r_rate.values.ravel())
    r_arousal = np.corrcoef(v_flat[ok], r_rate.values.ravel()[ok])[0, 1]
    r_coupling = np.corrcoef(v_flat[ok], c_true.reindex_like(v).values.ravel()[ok])[0, 1]
    rows[name] = {"r with log SCR rate": r_arousal, "r with true coupling": r_coupling}
    ax.scatter(r_rate.values.ravel()[ok], v_flat[ok], s=12)
    ax.set(xlabel="log SCR rate (dyad-centred)", ylabel=f"{name} (dyad-centred)")
    ax.set_title(f"{name}: r = {r_arousal:+.2f} with arousal", fontsize="medium")
print(pd.DataFrame(rows).T.round(2))

# %%
# Within dyads, raw synchrony falls as arousal rises, although nothing couples
# arousal and synchrony here; the chance-corrected effect size is much less
# correlated with arousal and follows the true coupling at least as well as the raw
# value does (the calibration of :ref:`methods-chance-corrected` gives the averages
# over replicated studies). A within-dyad
# effect of "IM synchrony" on the bond scale could therefore be produced by arousal
# alone when raw synchrony is used. ``mne-dyad run`` uses ``all_lags_es`` by default.
#
# The noise floor: a study with no coupling
# -----------------------------------------
# The surrogates answer one more question: what would the variance decomposition
# say if no dyad were coupled? Decomposing one surrogate per cell gives that
# *noise floor*. Dyad differences no larger than the noise floor's are
# differences in the partners' own signals, not in their coupling.
sampling = dict(draws=300 if quick else 1000, tune=300 if quick else 1000, seed=2)
comparison = md.surrogates.compare_with_surrogates(
    study, kind="circular_shift", n_surrogates=20, seed=3
)
real = md.stats.variance_table(
    md.stats.variance_decomposition(cube, measurement_error=False, **sampling)
)
floor = md.stats.variance_table(md.stats.variance_decomposition(comparison, **sampling))
shares = pd.DataFrame(
    {
        "study": real.xs("icc_dyad", level="component")["mean"],
        "noise floor": floor.xs("icc_dyad", level="component")["mean"],
    }
)
print("dyad share of the observed variance:")
print(shares.round(2))
fig, ax = plt.subplots(layout="constrained", figsize=(5, 3.5))
shares.plot.bar(ax=ax, rot=0, color=["C0", "0.6"])
ax.set(ylabel="dyad share of observed variance", ylim=(0, 1))
ax.set_title("Dyad share: the study against no coupling")

for seg in shares.index:
    study_share, floor_share = shares.loc[seg]
    verdict = "above" if study_share > floor_share else "not above"
    print(
        f"{seg}: the study's dyad share {study_share:.2f} is {verdict} the noise floor "
        f"({floor_share:.2f})"
    )

# %%
# The dyads of this study do differ in coupling (logit SD 0.35 against 0.9 between
# sessions), but the observed dyad share also holds sampling error and the
# partners' own signals. Read a study's dyad share against its noise floor: where
# it does not clear the floor, "dyads differ in synchrony" is not evidence that
# they differ in coupling, and where reliability is low (short segments), real
# dyad differences may not show at all.
