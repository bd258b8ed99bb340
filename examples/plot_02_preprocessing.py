"""
.. _ex-preprocessing:

=================
Preprocessing EDA
=================

Skin conductance has two parts that mean different things (Boucsein 2012): the
slowly wandering *tonic* level (skin conductance level, SCL) and the fast
*phasic* skin conductance responses (SCRs) that follow arousing moments. Physiological
synchrony between client and therapist is about shared responses, yet slow
wandering of the tonic level alone can make two people's EDA look correlated. This
example cleans a session with :func:`mne_dyad.preprocessing.clean_eda`, splits it
into tonic and phasic parts with :func:`mne_dyad.preprocessing.decompose_eda`, marks
artifacts with :func:`mne_dyad.preprocessing.annotate_artifacts`, and shows with the
``signal=`` argument of :func:`mne_dyad.synchrony.compute_synchrony` which signal
recovers the simulated coupling best. Cleaning and decomposition use NeuroKit2
(Makowski et al. 2021); mne-dyad converts siemens to microsiemens and back at that
boundary, and keeps gaps (NaN) as gaps.
"""

# %%
# A session with realistic slow drift
# -----------------------------------
# :func:`mne_dyad.simulation.simulate_session` builds each person's EDA from a
# tonic level, SCRs and a little sensor noise; the therapist follows 80 % of the
# client's SCRs in imagery (IM) segments and 20 % in cognitive-behavioural (CB)
# segments, 3 s later. Its tonic level drifts only a little. Real tonic levels
# wander more (with temperature, posture, the course of the session), so we add to
# each person a slow wave (four sinusoids with periods of 1 to 5 minutes, 0.25 µS
# each) and white noise (0.02 µS). The recording is at 16 Hz, like many lab
# amplifiers' EDA exports.
import os

import matplotlib.pyplot as plt
import mne
import numpy as np
import pandas as pd

import mne_dyad as md

quick = os.environ.get("MNE_DYAD_EXAMPLES_QUICK", "0") == "1"
mne.set_log_level("WARNING")
sfreq = 16.0


def add_drift_and_noise(raw, rng, wave=0.25, noise=0.02):
    """Add each person's slow wave and white noise (both in µS) to a session."""
    data = raw.get_data()
    for ch in range(2):
        periods = rng.uniform(60.0, 300.0, 4)
        phases = rng.uniform(0, 2 * np.pi, 4)
        slow = wave * np.sin(2 * np.pi * raw.times[:, np.newaxis] / periods + phases).sum(1)
        data[ch] += (slow + noise * rng.standard_normal(raw.n_times)) * 1e-6
    out = mne.io.RawArray(data, raw.info, verbose=False)  # keeps the session info
    out.set_annotations(raw.annotations)
    return out


duration = 900.0 if quick else 1800.0
block = duration / 6
segments = [
    (label, 60.0 + i * (block + 30.0), block) for i, label in enumerate(["IM", "CB", "IM", "CB"])
]
sim = md.simulation.simulate_session(
    duration=duration,
    sfreq=sfreq,
    coupling={"IM": 0.8, "CB": 0.2},
    lag=3.0,
    segments=segments,
    dyad="D01",
    session=1,
    seed=11,
)
raw = add_drift_and_noise(sim, np.random.default_rng(11), noise=0.0)
noisy = add_drift_and_noise(sim, np.random.default_rng(11))  # the same waves, plus noise
print(md.io.get_session_info(noisy)["coupling"])

# %%
# Cleaning
# --------
# ``method="neurokit"`` (the default) low-passes each person's EDA at 3 Hz with a
# 4th-order Butterworth filter: SCRs rise over about a second, so everything above
# 3 Hz is noise. The result is added as ``client-clean`` and ``therapist-clean``
# channels; the original channels stay as they are. Below 7 Hz the filter cannot
# work and the EDA is left as it is, with a warning; wristbands such as the
# Empatica E4 (4 Hz) already smooth their output. ``method="biosppy"`` uses
# BioSPPy's filter instead. Because we know the noise-free signal, we can measure
# what the cleaning did:
cleaned = md.preprocessing.clean_eda(noisy)
print(cleaned.ch_names)
reference = raw.get_data(picks="client")[0]
before = cleaned.get_data(picks="client")[0] - reference
after = cleaned.get_data(picks="client-clean")[0] - reference
print(
    f"RMS error of the client's EDA: {np.std(before) * 1e6:.4f} µS before cleaning, "
    f"{np.std(after) * 1e6:.4f} µS after"
)

# %%
# At 16 Hz the data hold frequencies up to 8 Hz; removing 3 to 8 Hz removes about
# 5/8 of white noise's power, hence an error about 0.6 times as large.
#
# Tonic and phasic parts
# ----------------------
# :func:`mne_dyad.preprocessing.decompose_eda` adds ``<role>-tonic`` and
# ``<role>-phasic`` channels, computed from the clean channels when they exist.
# The ``method`` decides how the two parts are told apart:
#
# - ``"highpass"`` (default): a zero-phase Butterworth filter at 0.05 Hz; the
#   phasic part is what changes within about 20 s, the tonic part the rest. Fast
#   and predictable; like any high-pass it undershoots, so the phasic part dips
#   below zero around each response.
# - ``"smoothmedian"``: the tonic part is a 4 s running median, the phasic part
#   the remainder. Robust to single spikes, but the median follows anything that
#   lasts longer than about 2 s, so with slow responses the phasic part keeps only
#   their rise.
# - ``"cvxeda"``: the convex-optimisation model of Greco et al. (2016), which
#   explains the EDA as a smooth tonic level plus a sparse sudomotor drive
#   convolved with a response shape; principled but much slower, and it needs the
#   optional ``cvxopt`` package.
#
# Model-based decompositions (cvxEDA, or the continuous decomposition of Benedek &
# Kaernbach 2010) estimate the drive itself. For synchrony in windows of tens of
# seconds the high-pass split is a common, transparent choice.
parts = md.preprocessing.decompose_eda(cleaned)
median = md.preprocessing.decompose_eda(cleaned, method="smoothmedian")
print(parts.ch_names)
print(md.io.get_session_info(parts)["preprocessing"])

# %%
# Three minutes of the client's EDA inside the first IM segment:
t0 = segments[0][1] + 60.0
stretch = (parts.times >= t0) & (parts.times < t0 + 180.0)
t = parts.times[stretch]


def trace(source, name):
    """One channel over the stretch, in microsiemens."""
    return source.get_data(picks=name)[0][stretch] * 1e6


fig, axes = plt.subplots(3, 1, sharex=True, figsize=(9, 6.5), layout="constrained")
axes[0].plot(t, trace(parts, "client"), color="0.6", lw=0.9, label="raw")
axes[0].plot(t, trace(parts, "client-clean"), color="k", lw=0.9, label="clean")
for ax, part in zip(axes[1:], ("tonic", "phasic"), strict=True):
    ax.plot(t, trace(parts, f"client-{part}"), lw=0.9, label="highpass")
    ax.plot(t, trace(median, f"client-{part}"), lw=0.9, label="smoothmedian")
for ax, title in zip(axes, ("raw and clean", "tonic", "phasic"), strict=True):
    ax.set_ylabel(f"{title}\nEDA (µS)")
    ax.legend(loc="upper right", fontsize="small", ncols=2)
axes[-1].axhline(0, color="0.5", lw=0.5)
axes[-1].set_xlabel("Time (s)")
axes[0].set_title("Client EDA: cleaning and tonic/phasic decomposition")

# %%
# Cleaning removes the fine fuzz of sensor noise (barely visible at this scale;
# the RMS errors above measure it). The high-pass tonic part follows
# the slow waves; its phasic part shows each response, with the filter's dips
# around it. The 4 s median lets much of each response (whose decay lasts several
# seconds here) into its tonic part, and its phasic part keeps only the rises.
#
# Artifacts
# ---------
# Wearable EDA has two common artifacts: contact loss, where the signal drops to
# near zero and stays flat, and electrode movement, where the level jumps. We put
# one of each into IM segments: the client's wristband loses contact for 30 s, and
# the therapist's electrode shifts so that the level stays 2 µS higher from then on.
dropout = segments[0][1] + 90.0
jump = segments[2][1] + 60.0
data = noisy.get_data()
data[0, int(dropout * sfreq) : int((dropout + 30) * sfreq)] = 0.02e-6
data[1, int(jump * sfreq) :] += 2e-6
broken = mne.io.RawArray(data, noisy.info, verbose=False)
broken.set_annotations(noisy.annotations)

# %%
# :func:`mne_dyad.preprocessing.annotate_artifacts` looks at each person's EDA in
# microsiemens for flat stretches (no change for ``flat`` = 10 s), values outside
# ``low``-``high`` (0.05 to 60 µS) and changes faster than ``jump`` = 10 µS/s, and
# widens each by ``margin`` seconds. It returns ``BAD_artifact`` annotations, which
# every synchrony function treats as missing data.
#
# Choose the margin for the signal you will analyse. On raw EDA the default 1 s
# covers the transition itself. The phasic signal is filtered, and a filter
# spreads an artifact: the zero-phase 0.05 Hz high-pass turns a 2 µS jump into a
# transient that stays above 0.05 µS for about 13 s on both sides. So for phasic
# synchrony we widen the marks by 15 s.
artifacts = md.preprocessing.annotate_artifacts(broken, margin=15.0)
for onset, length in zip(artifacts.onset, artifacts.duration, strict=True):
    print(f"BAD_artifact from {onset:.1f} s for {length:.1f} s")
print(f"injected: dropout {dropout:.0f}-{dropout + 30:.0f} s, jump at {jump:.0f} s")
marked = broken.copy().set_annotations(broken.annotations + artifacts)
fig = md.viz.plot_dyad(marked, show=False)

# %%
# Cleaning and decomposition run on the whole recording (they bridge gaps, not
# BAD spans); the synchrony step then leaves out every sample inside a ``BAD_``
# span, in whichever signal it uses. In windowed cross-lagged correlation
# (WCLC; Boker et al. 2002, in the rMEA form of Kleinbub & Ramseyer 2020) a window
# with more than half of its samples missing has no value; otherwise the complete
# pairs are used, so a partly marked window rests on fewer samples and its value
# is noisier.
#
# The figure shows per-window synchrony of the phasic signals (mean absolute Fisher
# z over the lags where the therapist follows; 30 s windows moved by 15 s). We call
# :func:`mne_dyad.synchrony.wclc` directly and blank the ``BAD_`` spans with MNE's
# ``reject_by_annotation="NaN"``, as :func:`~mne_dyad.synchrony.compute_synchrony`
# does. With the artifacts left in, the windows around them change; with them
# marked, the windows over them are dropped and the rest come close to the
# artifact-free values again (partly marked windows least so).
variants = {"no artifacts": noisy, "artifacts left in": broken, "artifacts marked": marked}
prepped = {
    label: md.preprocessing.decompose_eda(md.preprocessing.clean_eda(session))
    for label, session in variants.items()
}
styles = {
    "no artifacts": dict(color="k", lw=2.5, alpha=0.35),
    "artifacts left in": dict(color="C3", lw=1),
    "artifacts marked": dict(color="C0", lw=1, marker="."),
}
fig, ax = plt.subplots(figsize=(9, 3.2), layout="constrained")
for label, session in prepped.items():
    x, y = session.get_data(picks=["client-phasic", "therapist-phasic"], reject_by_annotation="NaN")
    sync = md.synchrony.wclc(x, y, sfreq, lag=10.0, window=30.0, step=15.0)
    following = sync.sel(lag=sync.lag > 0).mean("lag")
    centre = (following.window + 20.0) / 60  # a window spans 30 s + the 10 s lag
    ax.plot(centre, following, label=label, **styles[label])
for onset, length in zip(artifacts.onset, artifacts.duration, strict=True):
    ax.axvspan(onset / 60, (onset + length) / 60, color="0.6", alpha=0.5, lw=0)
ax.set(
    xlabel="Window centre (min)",
    ylabel="Synchrony (|Fisher z|)",
    title="Phasic WCLC per window, therapist following",
)
ax.legend(fontsize="small", ncols=3)

# %%
# Per segment, with :func:`~mne_dyad.synchrony.compute_synchrony`: marking brings
# IM synchrony back near the artifact-free value, from fewer windows.
for label, session in prepped.items():
    sync = md.synchrony.compute_synchrony(session, signal="phasic")
    im = sync.sel(segment="IM")
    print(f"{label:>18}: IM x_leads {float(im.x_leads):.3f} from {int(im.n_windows)} windows")

# %%
# On raw EDA the picture is less kind: a level shift stays in the data, so every
# window that spans the jump still compares two levels, however the transition is
# marked. The phasic signal has no level, which is one more reason to prefer it.
#
# Which signal carries the synchrony?
# -----------------------------------
# ``signal=`` chooses the channels :func:`mne_dyad.synchrony.compute_synchrony` uses:
# ``"raw"`` (the role channels), ``"clean"``, ``"tonic"`` or ``"phasic"`` (the
# channels added above; asking for one that does not exist is an error that says
# which function to run). The choice is recorded in the result's
# ``mne_dyad_params`` attribute. On the session above, ``x_leads`` (mean absolute
# Fisher z over the lags where the therapist follows) of WCLC with the defaults
# (lags up to ±10 s as in Prinz et al. 2021, 30 s windows, 15 s steps):
session_truth = md.io.get_session_info(parts)["coupling"]
table = {}
for signal in ("raw", "clean", "tonic", "phasic"):
    sync = md.synchrony.compute_synchrony(parts, signal=signal)
    table[signal] = sync.x_leads.to_series()
print("true coupling:", session_truth)
print(pd.DataFrame(table).T.round(3))

# %%
# One session says little: 80 % against 20 % coupling should give IM above CB, but
# the slow waves add a large share of their own. To see which signal *tracks* the
# coupling, simulate several sessions whose IM and CB coupling run from 0 to 1, each
# with its own slow drift, and correlate synchrony with the true coupling.
n_sessions = 5 if quick else 8
rng = np.random.default_rng(3)
levels = np.linspace(0.0, 1.0, n_sessions)
records = []
for k, c_im in enumerate(levels):
    coupling = {"IM": float(c_im), "CB": float(levels[-1 - k])}
    session = md.simulation.simulate_session(
        duration=600.0 if quick else 900.0, sfreq=sfreq, coupling=coupling, lag=3.0, seed=100 + k
    )
    session = add_drift_and_noise(session, rng)
    session = md.preprocessing.decompose_eda(md.preprocessing.clean_eda(session))
    true = md.io.get_session_info(session)["coupling"]
    for signal in ("raw", "clean", "tonic", "phasic"):
        sync = md.synchrony.compute_synchrony(session, signal=signal)
        for segment in ("IM", "CB"):
            records.append(
                {
                    "signal": signal,
                    "segment": segment,
                    "coupling": true[segment],
                    "x_leads": float(sync.x_leads.sel(segment=segment)),
                }
            )
results = pd.DataFrame(records)
recovery = results.groupby("signal", sort=False).apply(
    lambda g: np.corrcoef(g.coupling, g.x_leads)[0, 1], include_groups=False
)
print("correlation of true coupling with x_leads synchrony:")
print(recovery.round(2).to_string())

# %%
fig, axes = plt.subplots(1, 4, sharey=True, figsize=(10, 3), layout="constrained")
for ax, (signal, group) in zip(axes, results.groupby("signal", sort=False), strict=True):
    for segment, color in [("IM", "tab:orange"), ("CB", "tab:blue")]:
        sel = group[group.segment == segment]
        ax.scatter(sel.coupling, sel.x_leads, color=color, label=segment, s=20)
    ax.set(title=f"signal={signal!r}\nr = {recovery[signal]:.2f}", xlabel="True coupling")
axes[0].set_ylabel("x_leads (|Fisher z|)")
axes[0].legend(fontsize="small")

# %%
# Phasic synchrony follows the coupling closely. Raw and clean EDA give higher
# values overall, because two slowly wandering levels often rise or fall
# together within a 30 s window by chance, and that chance part varies from session
# to session and hides the coupling; the tonic part is mostly that chance part.
# Cleaning changes little here: it removes fast noise, which hardly affects 30 s
# correlations. Choose the signal before looking at the results, report it, and
# compare synchrony values only between analyses that used the same signal.
