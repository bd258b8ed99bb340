"""
.. _ex-cube-variance:

===================================
The synchrony cube and its variance
===================================

A study's synchrony lives in one labelled array, the *cube*: dyad x session x
segment type, with one variable per synchrony summary. This example builds a
cube for a simulated study, explores it with xarray, saves and reads it, and then
asks where synchrony varies: between dyads (some pairs are more synchronous than
others) or between the sessions of a dyad. Bar-Kalifa et al. (2019) found the
latter (their finding b); the simulation knows the true answer.
"""

# %%
# Build the cube
# --------------
# :func:`mne_dyad.synchrony_cube` runs :func:`mne_dyad.synchrony.compute_synchrony`
# on every session and stacks the results. We use windowed cross-lagged
# correlation (rMEA convention, Kleinbub & Ramseyer 2020) with 30 s windows moved
# by 15 s and lags up to +-10 s (Prinz et al. 2021). The simulated therapists
# follow their clients' skin conductance responses 3 s later, and how often they
# do (the coupling) has a dyad part (SD 0.35 on the logit scale) and a larger
# session part (SD 0.9).
import json
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import mne
import pandas as pd

import mne_dyad as md

quick = os.environ.get("MNE_DYAD_EXAMPLES_QUICK", "0") == "1"
mne.set_log_level("WARNING")
study = md.simulation.simulate_study(
    n_dyads=16 if quick else 24,
    n_sessions=5,
    n_usable=56 if quick else 100,
    duration=600.0 if quick else 900.0,
    seed=6,
)
print(study, "| true SDs of coupling (logit):", study.params["sd_dyad"], study.params["sd_session"])
cube = md.synchrony_cube(study.raws, lag=10.0, window=30.0, step=15.0)
print(dict(cube.sizes))
print(sorted(cube.data_vars))

# %%
# Every summary of :func:`mne_dyad.synchrony.wclc` is a variable on ``dyad x
# session x segment``: ``all_lags`` (mean ``|z|`` over all lags), ``x_leads`` and
# ``y_leads`` (lags where the client, or the therapist, leads; also named
# ``client_leads`` and ``therapist_leads``), ``lag0``, ``peak``, ``best_lag``,
# each with the standard error of its window values (``*_se``), plus the lag
# profile (``profile``, with an extra ``lag`` dim). The cube keeps a JSON record
# of every parameter, and the therapist of each dyad as a coordinate:
print(json.loads(cube.attrs["mne_dyad_params"]))
print(cube.therapist.to_series().head(3))

# %%
# Explore it with xarray
# ----------------------
# Select by label with ``sel``, reduce over named dims. One dyad's sessions:
print(cube.x_leads.sel(dyad="D01").to_pandas().round(3))

# %%
# Means over dims skip missing values; ``count`` says how many went in. Here,
# the mean ``x_leads`` of each dyad in each segment type, over its sessions:
per_dyad = cube.x_leads.mean("session")
n_sessions = cube.x_leads.count("session")
print(
    pd.concat({"mean": per_dyad.to_pandas(), "n": n_sessions.to_pandas()}, axis=1).head().round(3)
)

# %%
# The lag profile, averaged over dyads and sessions, should peak where the
# therapist follows: at +3 s. Positive lags mean the therapist follows the client.
profile = cube.profile.mean(("dyad", "session"))
fig, ax = plt.subplots(figsize=(6, 3), layout="constrained")
for seg, color in (("IM", "tab:orange"), ("CB", "tab:blue")):
    profile.sel(segment=seg).plot(ax=ax, color=color, label=seg)
ax.axvline(study.params["lag"], color="k", ls="--", lw=0.8, label="true lag")
ax.set(xlabel="Lag (s): > 0 therapist follows client", ylabel="Mean |z|", title="")
ax.legend()
print(f"lag of the profile maximum (s): {profile.idxmax('lag').values}, true {study.params['lag']}")

# %%
# For statistics in other tools, flatten it to a long table with
# ``to_dataframe``; the therapist coordinate comes along as a column.
table = cube[["x_leads", "all_lags"]].to_dataframe()
print(table.dropna().head())

# %%
# Missing sessions stay missing
# -----------------------------
# Not every session has EDA: the simulation, like the trial (128 of 155
# sessions), leaves some out. The cube does not drop them; their cells are NaN,
# so every dyad has the same sessions and nothing is silently realigned.
usable = study.truth.usable.sel(dyad=cube.dyad, session=cube.session) == 1
has_data = cube.x_leads.notnull().any("segment")
print(
    f"{int((~usable).sum())} of {usable.size} sessions have no EDA; "
    f"{int((~has_data).sum())} are NaN in the cube; the same cells: "
    f"{bool((usable == has_data).all())}"
)
fig = md.viz.plot_cube(cube, "x_leads")

# %%
# Blank cells are the sessions without EDA. Each row is a dyad: a dyad with a
# high synchrony in one session is not high in all of them. That is the
# question of the variance decomposition below.
#
# Save and read
# -------------
# :func:`mne_dyad.write_cube` writes netCDF (h5netcdf) to a temporary name and
# moves it into place when complete; :func:`mne_dyad.read_cube` loads it back
# with its attrs, coordinates and NaNs.
with tempfile.TemporaryDirectory() as tmp:
    fname = md.write_cube(cube, Path(tmp) / "sync_cube.nc")
    back = md.read_cube(fname)
    print(f"{fname.name}: {fname.stat().st_size / 1e3:.0f} kB, identical: {back.identical(cube)}")

# %%
# Where does synchrony vary?
# --------------------------
# :func:`mne_dyad.stats.variance_decomposition` fits, per segment type,
# ``true[d, s] = mu + u_d + e_ds`` with ``u_d ~ N(0, tau^2)`` (dyad) and
# ``e_ds ~ N(0, sigma^2)`` (session within dyad), on the standardised variable,
# with half-normal priors on the SDs (PyMC). Each session's synchrony is only an
# estimate of its ``true`` value, from a few minutes of windows: the cube's
# ``x_leads_se`` is its standard error. By default the model treats each value as
# observed with that error, so the dyad share (an intraclass correlation)
# ``tau^2 / (tau^2 + sigma^2)`` and the session share are shares of the *true*
# variance. The table also gives ``error_share``, the part of the observed variance
# that is sampling error, and the shares that a decomposition ignoring it would
# report (``*_observed``, as in the paper).
# The model is small: ``sampler="pymc"`` (PyTensor's C code, cached on disk between
# runs) starts faster here than nutpie, which compiles each model structure with
# numba once per Python process before its much faster sampling.
sampling = dict(draws=1000, tune=1000, sampler="pymc", seed=1)
vd = md.stats.variance_decomposition(cube, summary="x_leads", **sampling)
print(md.stats.variance_table(vd).round(3))
fig = md.viz.plot_variance(vd)

# %%
# How do these shares compare with the truth?
#
# Comparison with the simulated truth
# -----------------------------------
# The simulation set ``sd_dyad = 0.35`` and ``sd_session = 0.9`` on the logit
# scale of the coupling: a dyad share of ``0.35^2 / (0.35^2 + 0.9^2) = 0.13``
# in the population. A study of a few dozen dyads realises this with sampling
# error, so we also decompose the *true* coupling of exactly the sessions
# analysed (``study.truth.coupling``, NaN where there is no EDA) with the same
# model.
true_cube = study.truth[["coupling"]].where(study.truth.usable == 1)
# The true coupling has no sampling error: ``measurement_error=False``.
vd_true = md.stats.variance_decomposition(
    true_cube, summary="coupling", measurement_error=False, **sampling
)
table = md.stats.variance_table(vd)["mean"]
shares = pd.DataFrame(
    {
        "population (logit)": study.params["icc_dyad_logit"],
        "true coupling": md.stats.variance_table(vd_true)["mean"].xs("icc_dyad", level=1),
        "x_leads, corrected": table.xs("icc_dyad", level=1),
        "x_leads, observed": table.xs("icc_dyad_observed", level=1),
        "x_leads, error share": table.xs("error_share", level=1),
    }
)
print("dyad share (posterior means):")
print(shares.round(2))

# %%
# Sampling error differs from session to session, so a decomposition of the
# observed values counts it as session variance: the observed dyad share lies
# below the corrected one, and the session share of a synchrony index overstates
# the session share of the process behind it (by ``error_share`` times the true dyad
# share, so by at most the error share). Here sessions
# dominate the truth too, because the simulation was built that way; in a study
# where they do not, the observed shares can still say they do (see
# :ref:`methods-variance`). Synchrony is also not coupling: how strongly a
# session's synchrony follows its coupling varies, so even the corrected share is
# a share of true *synchrony*, not of coupling. Note also how wide the intervals
# are: with a few dozen dyads, the realised dyad share of a study can be far
# from the population value.
#
# A therapist level
# -----------------
# Dyads share therapists (here each of the 6 therapists sees several clients),
# and a therapist's style could make all of their dyads more synchronous. With
# ``therapist=True`` the cube's ``therapist`` coordinate adds a level
# ``v_t ~ N(0, phi^2)``. The simulation has no therapist effect, so its share
# should be small. With only 6 therapists it is poorly identified: the posterior
# stays wide and away from exactly zero, pulled by the prior, and it trades off
# with the dyad share (each therapist sees only a few dyads).
vd_ther = md.stats.variance_decomposition(cube, summary="x_leads", therapist=True, **sampling)
print(md.stats.variance_table(vd_ther).round(3))
fig = md.viz.plot_variance(vd_ther)
