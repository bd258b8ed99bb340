"""
.. _ex-how-many-dyads:

===========================
How many dyads do I need?
===========================

Before recruiting, a study of synchrony and alliance should know its chance of
finding the effect it looks for. The within-dyad question ("do sessions with more
synchrony than the dyad's own average have a better alliance?") rests on the
session-to-session variation inside dyads, so its power depends on:

- the number of dyads and of sessions per dyad;
- ``rho_within``, the within-dyad correlation of true synchrony and alliance;
- the **reliability** of the measured synchrony across a dyad's sessions:
  measurement error attenuates the correlation the data can show to
  ``rho_within * sqrt(reliability)``. :ref:`ex-what-synchrony-measures` shows how
  to read it from a cube (``all_lags_reliability_pooled``).

:func:`mne_dyad.stats.design_analysis` simulates studies of a given design,
analyses each and reports power (the share of 89% intervals that exclude 0 in the
true direction), coverage and interval width, with Monte Carlo standard errors.
"""

# %%
# Power curves
# ------------
# The fast path analyses each simulated study by the within-dyad correlation of the
# dyad-centred values (milliseconds per study), so a whole grid of designs takes a
# few seconds. It stands for the model with one slope for all dyads; the package's
# default model has less power (see the end of this page). Four sessions per dyad,
# reliability 0.6.
import os

import matplotlib.pyplot as plt

import mne_dyad as md

quick = os.environ.get("MNE_DYAD_EXAMPLES_QUICK", "0") == "1"
n_sims = 100 if quick else 1000
dyads = [10, 20, 31, 45, 60, 80, 100]
table = md.stats.design_analysis(dyads, 4, [0.1, 0.2, 0.3], reliability=0.6, n_sims=n_sims, seed=0)

fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
for rho, rows in table.groupby("rho_within"):
    ax.errorbar(
        rows.n_dyads,
        rows.power,
        yerr=2 * rows.power_se,
        marker="o",
        capsize=2,
        label=f"rho_within = {rho:g}",
    )
ax.axhline(0.8, color="0.6", ls="--", lw=1)
ax.axvline(31, color="0.6", ls=":", lw=1)
ax.text(32, 0.03, "2019 trial: 31 dyads", color="0.4", fontsize=8)
ax.set(xlabel="dyads (4 sessions each)", ylabel="power (89% interval excludes 0)", ylim=(0, 1))
ax.set_title("Power of the within-dyad effect, reliability 0.6")
ax.legend(loc="lower right")

# %%
# With the 2019 trial's size (31 dyads, about 4 usable sessions each), a within-dyad
# correlation of 0.2 is found about half the time by the fixed-slope analysis (less
# often by the default one):
row = table[(table.n_dyads == 31) & (table.rho_within == 0.2)].iloc[0]
print(
    f"31 dyads x 4 sessions, rho 0.2, reliability 0.6: power {row.power:.2f} "
    f"(MC SE {row.power_se:.2f}), interval width of r {row.width:.2f}"
)

# %%
# Sessions or dyads?
# ------------------
# The within-dyad effect is estimated from session-to-session differences, so more
# sessions per dyad buy power too; and better measurement (longer segments, hence
# higher reliability) buys it as well, because it removes attenuation.
grid = md.stats.design_analysis(
    [20, 31, 60], [4, 8], 0.2, reliability=[0.4, 0.6, 0.9], n_sims=n_sims, seed=1
)
fig, axes = plt.subplots(1, 2, figsize=(8, 3.5), layout="constrained", sharey=True)
for ax, (n_sessions, rows) in zip(axes, grid.groupby("sessions_per_dyad"), strict=True):
    for rel, sub in rows.groupby("reliability"):
        ax.plot(sub.n_dyads, sub.power, marker="o", label=f"reliability {rel:g}")
    ax.set(title=f"{n_sessions} sessions per dyad", xlabel="dyads", ylim=(0, 1))
axes[0].set_ylabel("power, rho_within = 0.2")
axes[1].legend(loc="lower right")

# %%
# No effect, no finding
# ---------------------
# The negative control: with ``rho_within = 0`` the "power" is the false-positive
# rate, which for 89% intervals should be 11%; the coverage of the interval of the
# partial correlation should be 89%.
null = md.stats.design_analysis([20, 60], 4, 0.0, reliability=0.6, n_sims=n_sims, seed=2)
print(null[["n_dyads", "power", "power_se", "coverage", "coverage_se"]].round(3))

# %%
# The fast path against the model
# -------------------------------
# The fast path stands for :func:`mne_dyad.stats.fit_alliance_model` with one
# within slope for all dyads, no detrending and observed centring. At one design
# point we run that model, and the package's default model (random slopes, each
# dyad's synchrony detrended, a spline session course, latent centring; see
# :ref:`methods-calibration`), on every simulated study (seconds per fit) and
# compare. The model's interval of ``beta[within, IM, bond]`` gives its power, and
# the interval of its partial within-dyad correlation its coverage.
n_check = 10 if quick else 20
check = {"reliability": 0.7, "n_sims": n_check, "seed": 4}
fixed = {
    "random_slopes": False,
    "detrend": False,
    "session_covariate": "linear",
    "centering": "observed",
}
fast = md.stats.design_analysis(20, 5, 0.3, **check).assign(method="fast")
model_fixed = md.stats.design_analysis(
    20, 5, 0.3, method="model", draws=300, tune=300, model_options=fixed, verbose=False, **check
).assign(method="model, fixed slopes")
model_default = md.stats.design_analysis(20, 5, 0.3, method="model", verbose=False, **check).assign(
    method="model, defaults"
)
cols = ["method", "power", "power_se", "coverage", "width"]
for row in (fast, model_fixed, model_default):
    print(row[cols].round(2).to_string(index=False, header=row is fast))

# %%
# Within Monte Carlo error the fast path and the fixed-slope model agree (the test
# ``test_fast_path_agrees_with_the_alliance_model`` checks this at 60 studies), so
# the curves above describe that model. The default model has less power on the
# same studies: at 60 studies of this design, 0.55 (SE 0.06) against the fast
# path's 0.77 (SE 0.06), with coverage of 0.95. Its random slopes and detrending
# are what keep its false-positive rate on target when dyads' slopes differ or
# their synchrony and alliance drift; here, where neither happens, they cost
# power. So read the curves as an upper bound for the default analysis, and run
# ``method="model"`` at the design you settle on. The curves describe the
# analysis, not EDA: they take the reliability as given. To check a whole
# pipeline at a planned design, simulate studies with
# :func:`mne_dyad.simulation.simulate_study` and run them through it, as
# ``benchmarks/calibrate.py`` does.
