"""
.. _ex-quickstart:

==========
Quickstart
==========

The whole analysis of Bar-Kalifa et al. (2019) in a few calls, on a small simulated
study: two people's EDA per session, synchrony inside imagery (IM) and
cognitive-behavioural (CB) segments, and a Bayesian multilevel model of the alliance.
"""

# %%
# Simulate a study
# ----------------
# Each session is an :class:`mne.io.Raw` with the client's and the therapist's EDA as
# ``gsr`` channels (siemens) and the IM/CB segments as annotations. The simulation keeps
# its ground truth: how strongly the therapist follows the client in each segment.
import os

import mne

import mne_dyad as md

quick = os.environ.get("MNE_DYAD_EXAMPLES_QUICK", "0") == "1"
mne.set_log_level("WARNING")
study = md.simulation.simulate_study(
    n_dyads=16,
    n_sessions=4,
    n_usable=50,
    duration=900.0,
    seed=42,
)
print(study)
raw = study.raws[next(iter(study.raws))]
fig = md.viz.plot_dyad(raw)

# %%
# Synchrony in every segment of every session
# -------------------------------------------
# Windowed cross-lagged correlation (rMEA convention): 30 s windows moved by 15 s, lags
# up to +-10 s, Fisher z of the absolute correlation. The result is an xarray cube
# ``dyad x session x segment``; missing sessions are NaN, never dropped.
cube = md.synchrony_cube(study.raws, lag=10.0, window=30.0, step=15.0)
print(cube)
fig = md.viz.plot_cube(cube, "x_leads")

# %%
# Does more coupling give more synchrony?
# ---------------------------------------
# The simulation stored the true coupling of each session and segment: synchrony where
# the client leads (``x_leads``) follows it.
import numpy as np

truth = study.truth.coupling.sel(dyad=cube.dyad, session=cube.session, segment=cube.segment)
ok = np.isfinite(cube.x_leads.values)
r = np.corrcoef(truth.values[ok], cube.x_leads.values[ok])[0, 1]
print(f"correlation of true coupling with x_leads synchrony: {r:.2f}")

# %%
# Synchrony and the alliance
# --------------------------
# Each scale (bond, task, goal) is modelled jointly on within-dyad and between-dyad
# synchrony in IM and CB segments, with correlated dyad effects and residuals. By
# default each dyad has its own within-dyad slopes, each dyad's synchrony is
# detrended over its sessions, and the alliance's course over sessions is a spline:
# the settings that kept false positives and coverage on target in the calibration
# (see :ref:`methods-calibration`).
fit = md.stats.fit_alliance_model(cube, study.alliance, tune=500 if quick else 1000, seed=1)
print(fit.effects_table().to_string())
fig = md.viz.plot_alliance_effects(fit)

# %%
# The simulated truth: within-dyad IM coupling raises bond only. The within-dyad
# effects recover it; the between-dyad effects rest on 16 dyads, so their intervals
# are wide and, with twelve of them, one may exclude zero by chance. The
# :ref:`2019 reproduction <ex-reproduce-2019>` runs the full-size study.
print(study.params["betas"])

# %%
# The same analysis in one call
# -----------------------------
# :func:`mne_dyad.pipeline.run_pipeline` runs every stage with one configuration, as
# ``mne-dyad run`` does from a manifest and a ``params.toml``. Each table of the
# configuration holds the parameters of the function that runs the stage, and the whole
# configuration is checked before any data is touched: a typo is an error that names
# the table, the key and the nearest valid key.
try:
    md.pipeline.PipelineConfig({"synchrony": {"lag": 10.0}, "chance": {"n_surogates": 50}})
except md.pipeline.ConfigError as err:
    print(err)

# %%
# Here the chance test and the variance decomposition (see :ref:`ex-surrogates` and
# :ref:`ex-cube-variance`) are switched off to keep the example short. The cube and the
# model are those computed step by step above.
config = md.pipeline.PipelineConfig(
    {
        "seed": 1,
        "synchrony": {"lag": 10.0, "window": 30.0, "step": 15.0},
        "chance": {"enabled": False},
        "variance": {"enabled": False},
        "model": {"tune": 500 if quick else 1000},
    }
)
plan, problems = md.pipeline.check_run(study, config)
print(plan)
results = md.pipeline.run_pipeline(study, config)
print(results.describe())
np.testing.assert_array_equal(results.cube.x_leads.values, cube.x_leads.values)
