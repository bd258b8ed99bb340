"""
.. _ex-surrogates:

======================================
Surrogates: is synchrony above chance?
======================================

Two people's skin conductance correlate even when neither responds to the other:
both drift slowly, both produce skin conductance responses (SCRs) now and then,
and the absolute Fisher z of a 30 s windowed correlation is never zero. Whether a
dyad is *more* synchronous than that can only be judged against a chance
distribution built from the same kind of signals: surrogates. Bar-Kalifa et al.
(2019) showed that synchrony in imagery (IM) and cognitive-behavioural (CB)
segments exceeds chance (their finding a). This example shows how to test it,
which null hypothesis each surrogate kind stands for (Moulder et al. 2018), and
that the test flags a coupled study but not an uncoupled one, except with IAAFT
surrogates, whose null does not fit EDA.
"""

# %%
# Two studies: coupled and uncoupled
# ----------------------------------
# :func:`mne_dyad.simulation.simulate_study` lets the therapist follow a share of
# the client's SCRs 3 s later. ``coupling_mean`` sets the median share per
# segment type (default IM 0.5, CB 0.4). We raise it to 0.7 and 0.6 so that a
# study small enough for this page has the power to detect it; with
# ``{"IM": 0, "CB": 0}`` every session's coupling is exactly zero, so whatever a
# test finds there is a false positive. Both studies share the seed: same dyads,
# sessions and segment layouts.
import os

import matplotlib.pyplot as plt
import mne
import numpy as np
import pandas as pd

import mne_dyad as md

quick = os.environ.get("MNE_DYAD_EXAMPLES_QUICK", "0") == "1"
mne.set_log_level("WARNING")
design = dict(
    n_dyads=8 if quick else 10,
    n_sessions=3,
    n_usable=20 if quick else 24,
    duration=600.0 if quick else 900.0,
    seed=1,
)
coupled = md.simulation.simulate_study(coupling_mean={"IM": 0.7, "CB": 0.6}, **design)
uncoupled = md.simulation.simulate_study(coupling_mean={"IM": 0.0, "CB": 0.0}, **design)
for name, study in (("coupled", coupled), ("uncoupled", uncoupled)):
    true = study.truth.coupling.where(study.truth.usable == 1).mean(("dyad", "session"))
    print(f"{name:>9}: {study}, mean true coupling", true.round(2).to_series().to_dict())

# %%
# Chance is not zero. In the uncoupled study, the default WCLC summary
# (``all_lags``, the mean ``|z|`` over lags of +-10 s; Kleinbub & Ramseyer 2020)
# is clearly positive:
wclc_params = dict(lag=10.0, window=30.0, step=15.0)
cube = md.synchrony_cube(uncoupled.raws, **wclc_params)
print("uncoupled study, mean all_lags:", cube.all_lags.mean(("dyad", "session")).round(3).values)

# %%
# The four surrogate kinds
# ------------------------
# Each surrogate keeps the client's signal and replaces the therapist's by a
# version that *cannot* be coupled to it but keeps some of its other properties.
# What is kept defines the null hypothesis, and Moulder et al. (2018) showed that
# the choice changes the answer:
#
# - :func:`~mne_dyad.surrogates.circular_shift` rolls the therapist's signal by
#   at least ``min_shift`` (default twice the maximum lag, so that no shifted
#   response falls within the lags searched). It keeps the whole signal, its
#   SCRs, drift and autocorrelation, and destroys only the alignment. Null: "no
#   time-locked coupling".
# - :func:`~mne_dyad.surrogates.segment_shuffle` cuts it into pieces (default
#   one WCLC window, 30 s) and permutes them so that none stays in place
#   (Ramseyer & Tschacher 2010), as SUSY does (Tschacher & Meier 2020). The
#   dynamics inside each piece are kept; slow trends are broken and jumps appear
#   at the cuts. A span of ``k`` pieces has few such orders (1 for k = 2, 2 for
#   3, 9 for 4): short segments give a degenerate surrogate distribution, so
#   keep the pieces well below the length of a segment.
# - :func:`~mne_dyad.surrogates.iaaft` (Schreiber & Schmitz 2000) keeps the
#   exact values (so their skewed distribution) and, nearly, the power spectrum,
#   and randomises the Fourier phases. Null: "a stationary *linear Gaussian*
#   process, seen through a monotone rescaling that gives it the real values,
#   independent of the client". What such a process cannot have goes too: the
#   time asymmetry of SCRs (fast rise, slow decay), their bursty timing and slow
#   drift.
# - :func:`~mne_dyad.surrogates.pseudo_dyads` pairs the client with the
#   therapist of *another* dyad in the same segment type (roles kept; Bernieri
#   et al. 1988; Moulder et al. 2018). Both signals are real, including what all
#   sessions share (the protocol, the demands of the task). Null: "no more
#   synchrony than between people who never met, in a similar session". It is
#   the default and closest to the paper's question.
#
# Here is one IM segment of the most strongly coupled session with one surrogate
# of each kind. Each title gives the pair's WCLC synchrony, ``all_lags``.
sfreq = coupled.params["sfreq"]
im_coupling = coupled.truth.coupling.sel(segment="IM").where(coupled.truth.usable == 1)
key = max(coupled.raws, key=lambda k: float(im_coupling.sel(dyad=k[0], session=k[1])))


def first_segment(raw, label="IM"):
    """Client and therapist EDA (µS) in the first segment with this label."""
    ann = raw.annotations
    onset, dur = next(
        (o, d)
        for o, d, desc in zip(ann.onset, ann.duration, ann.description, strict=True)
        if desc == label
    )
    return raw.copy().crop(onset, onset + dur).get_data(picks=["client", "therapist"]) * 1e6


def all_lags(x, y):
    """Mean |z| over windows and lags, the two signals cut to the shorter."""
    n = min(x.size, y.size)
    return float(md.synchrony.wclc(x[:n], y[:n], sfreq, **wclc_params).mean())


x, y = first_segment(coupled.raws[key])
partners = md.surrogates.pseudo_dyads(coupled.raws, segments="IM", n_surrogates=1, seed=0)
partner = partners.sel(dyad=key[0], session=key[1], segment="IM", surrogate=0)
partner_key = (str(partner.partner_dyad.values), int(partner.partner_session))
examples = {
    "real therapist": y,
    "circular shift": md.surrogates.circular_shift(y, sfreq, min_shift=20.0, seed=0)[0].values,
    "segment shuffle": md.surrogates.segment_shuffle(y, sfreq, segment=30.0, seed=0)[0].values,
    "IAAFT": md.surrogates.iaaft(y, seed=0, sfreq=sfreq)[0].values,
    f"pseudo-dyad: therapist of {partner_key[0]}, session {partner_key[1]}": first_segment(
        coupled.raws[partner_key]
    )[1],
}
fig, axes = plt.subplots(len(examples) + 1, 1, sharex=True, figsize=(9, 9), layout="constrained")
axes[0].plot(np.arange(x.size) / sfreq, x, color="k", lw=0.8)
axes[0].set_title(
    f"client, dyad {key[0]}, session {key[1]} (true IM coupling "
    f"{float(im_coupling.sel(dyad=key[0], session=key[1])):.2f})",
    fontsize="small",
)
for ax, (label, ys) in zip(axes[1:], examples.items(), strict=True):
    ax.plot(np.arange(ys.size) / sfreq, ys, color="tab:orange", lw=0.8)
    ax.set_title(f"{label}: all_lags = {all_lags(x, ys):.3f}", fontsize="small")
for ax in axes:
    ax.set_ylabel("EDA (µS)")
axes[-1].set_xlabel("Time in the IM segment (s)")

# %%
# The IAAFT surrogate has exactly the values of the real therapist signal and
# nearly its spectrum, but no recognisable SCRs: the fast-rise, slow-decay shape
# is gone.
#
# Testing a whole study
# ---------------------
# :func:`mne_dyad.stats.test_above_chance` computes the synchrony summary
# (default ``all_lags``) of each real session and segment, and of
# ``n_surrogates`` surrogates of it. Per cell it reports the effect size
# ``es = (real - mean_sur) / sd_sur`` and ``p = (1 + #{sur >= real}) / (1 +
# n_sur)``; the smallest possible p is ``1 / (n_sur + 1)``, so use several
# hundred surrogates for per-session p-values in a paper. At the group level,
# ``d = real - mean_sur`` is modelled per segment type as ``d = delta + u_dyad +
# e`` (a dyad random intercept) in PyMC; the posterior of ``delta`` and
# ``P(delta > 0)`` answer "is synchrony above chance on average?".
#
# The group model is compiled (by nutpie, the default sampler) once per shape of
# data: the later calls below, on studies of the same size, reuse it and take a
# fraction of a second.
n_sur = 10 if quick else 30
sampling = dict(draws=500 if quick else 1000, tune=500 if quick else 1000, seed=1)
res = md.stats.test_above_chance(
    coupled, kind="pseudo_dyads", n_surrogates=n_sur, **sampling, **wclc_params
)
print(res[["observed", "sur_mean", "es", "p"]].to_dataframe().dropna().head().round(3))
print(res[["delta_mean", "delta_lower", "delta_upper", "p_delta_gt_0"]].to_dataframe().round(3))
fig = md.viz.plot_surrogates(res)

# %%
# The real dyads (coloured outline) lie to the right of their pseudo-dyads
# (grey), and the 89% interval of ``delta`` excludes zero in both segment types.
# Sessions without EDA stay NaN in ``res`` and do not enter the group model.
# Does the effect size of a session follow its true coupling?
true = coupled.truth.coupling.sel(dyad=res.dyad, session=res.session, segment=res.segment)
ok = np.isfinite(res.es.values)
r = np.corrcoef(true.values[ok], res.es.values[ok])[0, 1]
print(f"correlation of the per-session effect size with the true coupling: {r:.2f}")
fig, ax = plt.subplots(figsize=(5, 3.5), layout="constrained")
for seg, color in (("IM", "tab:orange"), ("CB", "tab:blue")):
    ax.scatter(true.sel(segment=seg), res.es.sel(segment=seg), color=color, label=seg, s=18)
ax.axhline(0, color="0.5", lw=0.8, ls="--")
ax.set(xlabel="True coupling (share of SCRs followed)", ylabel="Effect size (surrogate SDs)")
ax.legend(title="segment")

# %%
# The uncoupled study, with every surrogate kind
# ----------------------------------------------
# A test is only useful if it stays quiet when there is nothing to find. We run
# every kind on the uncoupled study and call a segment type "above chance" when
# the 89% interval of ``delta`` lies above zero. Under a valid null, effect
# sizes scatter around 0 and ``P(delta > 0)`` is itself random (0.5 on average,
# above 0.95 in about one study of twenty). IAAFT is the slowest kind (iterated
# FFTs for every surrogate): it gets fewer surrogates and the IM segments only.
# The median is used for the effect sizes because a nearly degenerate segment
# shuffle (see above) can give a huge one.
rows = []
for kind in md.surrogates.KINDS:
    iaaft = kind == "iaaft"
    out = md.stats.test_above_chance(
        uncoupled,
        kind=kind,
        n_surrogates=8 if iaaft else n_sur,
        segments=("IM",) if iaaft else ("IM", "CB"),
        **sampling,
        **wclc_params,
    )
    if kind == "pseudo_dyads":
        null_res = out
    if iaaft:
        iaaft_res = out
    for seg in out.segment.values:
        cell = out.sel(segment=seg)
        rows.append(
            {
                "kind": kind,
                "segment": seg,
                "median ES": float(cell.es.median()),
                "delta": float(cell.delta_mean),
                "89% interval": f"[{float(cell.delta_lower):+.3f}, {float(cell.delta_upper):+.3f}]",
                "P(delta>0)": float(cell.p_delta_gt_0),
                "above chance": bool(cell.delta_lower > 0),
            }
        )
table = pd.DataFrame(rows).set_index(["kind", "segment"])
with pd.option_context("display.width", 120, "display.max_columns", 10):
    print(table.round(3))

# %%
# Pseudo-dyads, circular shifts and segment shuffles find nothing in the
# uncoupled study. The pseudo-dyad test on the uncoupled study, to compare with
# its figure for the coupled study above: the real dyads now lie among their
# pseudo-dyads.
fig = md.viz.plot_surrogates(null_res)

# %%
# The IAAFT caveat
# ----------------
# IAAFT flags the *uncoupled* study: effect sizes around one surrogate SD and an
# interval of ``delta`` above zero, although no therapist response ever follows
# a client response.
fig = md.viz.plot_surrogates(iaaft_res)

# %%
# The surrogates are not wrong; they answer another question. An IAAFT surrogate
# has the therapist's exact, skewed values and nearly its spectrum, so neither
# the value distribution nor the spectrum is what differs. Its null is a
# stationary linear Gaussian process seen through a monotone rescaling, and EDA
# is not one: SCRs are time-asymmetric (fast rise, slow decay), come in bursts at
# irregular moments, and the level drifts, so the signal is not stationary. Two
# independent EDA signals both have these features, and together they reach
# larger chance correlations within 30 s windows than the client's signal does
# with surrogates that lack them. So the real pairs beat their IAAFT surrogates,
# and the test rejects the IAAFT null, not "no coupling". With EDA, test
# coupling with pseudo-dyads or circular shifts, and keep IAAFT for signals close
# to its null (or for testing nonlinearity itself).
