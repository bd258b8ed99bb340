"""
.. _ex-wclc-lag-maps:

===================================================
Windowed cross-lagged correlation and lag maps
===================================================

Windowed cross-lagged correlation (WCLC) is the workhorse of dyadic EDA synchrony:
the session is cut into short, overlapping windows, and in each window the two
people's signals are correlated at a range of lags (Boker et al. 2002). The result is
a *lag map* — synchrony over time and lag — that is then summarised into one number
per segment. This example simulates a session in which the therapist follows the
client's skin conductance responses 3 s later, computes the lag map of one imagery
(IM) segment, recovers the lag, and shows how the window, lag and step settings
change the result. mne-dyad follows the conventions of the rMEA R package (Kleinbub &
Ramseyer 2020), so on the same input its numbers match rMEA's ``MEAccf``.
"""

# %%
# A session with a known lag
# --------------------------
# :func:`mne_dyad.simulation.simulate_session` builds a session
# :class:`~mne.io.Raw` with two ``gsr`` channels (siemens) and the IM/CB segments as
# annotations. Here 80 % of the client's responses in IM segments are followed by a
# therapist response 3 s later, but only 10 % in cognitive-behavioural (CB) segments.
# The true values are stored in the Raw and returned by
# :func:`mne_dyad.io.get_session_info`.
import matplotlib.pyplot as plt
import mne
import numpy as np
import pandas as pd

import mne_dyad as md

mne.set_log_level("WARNING")
true_lag = 3.0
raw = md.simulation.simulate_session(
    duration=1800.0,  # 30 minutes
    coupling={"IM": 0.8, "CB": 0.1},
    lag=true_lag,
    seed=7,
)
info = md.io.get_session_info(raw)
print(f"true coupling {info['coupling']}, true lag {info['lag_s']} s")
fig = md.viz.plot_dyad(raw, show=False)

# %%
# One IM segment as two arrays
# ----------------------------
# :func:`mne_dyad.synchrony.wclc` works on two plain arrays, so it can be used on any
# pair of signals. We crop the first IM annotation out of the Raw and take the client
# (``x``, the first role) and therapist (``y``, the second role) signals in
# microsiemens. The order of the roles defines the sign of the lag.
ann = raw.annotations
first_im = list(ann.description).index("IM")
onset, duration = ann.onset[first_im], ann.duration[first_im]
segment = raw.copy().crop(tmin=onset, tmax=onset + duration)
client, therapist = segment.get_data(picks=["client", "therapist"], units="uS")
sfreq = raw.info["sfreq"]
print(f"IM segment: {onset:.0f}-{onset + duration:.0f} s, {client.size} samples at {sfreq} Hz")

# %%
# Windows, lags and steps
# -----------------------
# Three durations, all in seconds, define the analysis:
#
# ``window``
#     How many seconds of the two signals are correlated at a time (here 30 s).
# ``lag``
#     The largest shift of one signal against the other: every lag from ``-lag`` to
#     ``+lag`` is tried, one sample apart (here +-10 s, as in Prinz et al. 2021).
# ``step``
#     How far the window moves between successive windows (here 15 s, half a window).
#
# In the rMEA convention, window ``k`` covers ``window + lag`` seconds from
# ``k * step``, so all lags of a window use the same stretch of data. The
# correlations are then transformed twice, both on by default:
#
# * **Fisher z** (``fisher_z=True``): ``z = atanh(r)`` makes correlations roughly
#   normal with a variance that does not depend on their size, so averaging them over
#   windows and lags is meaningful (mne-dyad clips z to +-10 for ``|r| = 1``).
# * **Absolute values** (``absolute=True``): ``|z|`` counts a negative correlation as
#   synchrony, too: the two people move together in opposite directions. This is
#   rMEA's default; set ``absolute=False`` to keep the sign.
#
# A **positive lag** pairs the client at time ``t`` with the therapist at ``t + lag``:
# the therapist follows the client. A negative lag means the client follows.
sync = md.synchrony.wclc(client, therapist, sfreq, lag=10.0, window=30.0, step=15.0)
print(dict(sync.sizes), "|", sync.attrs["long_name"])

# %%
# The lag map
# -----------
# :func:`mne_dyad.viz.plot_lag_map` draws the ``window x lag`` table: time on the x
# axis, lag on the y axis, colour for synchrony. The cyan line follows the lag of the
# maximum in each window. We add the true lag as a dashed line. A bright horizontal
# band at +3 s is the therapist following the client. Vertical bright stripes (high
# ``|z|`` at every lag) come from slow drifts shared by the two signals within a
# window: they raise synchrony at all lags, a reason to compare with surrogates
# (Moulder et al. 2018).
fig = md.viz.plot_lag_map(sync, roles=("client", "therapist"), show=False)
fig.axes[0].axhline(true_lag, color="w", ls="--", lw=1, label=f"true lag ({true_lag:g} s)")
fig.axes[0].legend(loc="upper right", fontsize="small")

# %%
# Recovering the lag
# ------------------
# Averaging the lag map over windows gives a *lag profile*; its maximum estimates the
# typical lag. The per-window maxima scatter more: a single 30 s window may contain
# only a few responses. Swapping the roles mirrors the lags, which is a quick check
# of the sign convention.
profile = sync.mean("window")
best_per_window = sync.lag.values[sync.fillna(-np.inf).argmax("lag").values]
swapped = md.synchrony.wclc(therapist, client, sfreq, lag=10.0, window=30.0, step=15.0)
print(
    f"lag of the profile maximum: {float(profile.idxmax('lag')):+.2f} s "
    f"(true {true_lag:+.1f} s; roles swapped: {float(swapped.mean('window').idxmax('lag')):+.2f} s)"
)
print(
    f"per-window maxima: median {np.median(best_per_window):+.2f} s, "
    f"{np.mean(np.abs(best_per_window - true_lag) <= 1):.0%} within 1 s of the truth"
)

# %%
# Peak picking (Boker et al. 2002)
# --------------------------------
# The maximum over all lags can jump to a distant lag when a window holds a shared
# drift or a chance alignment. Boker et al. (2002) instead pick, in each window, the
# local maximum of the *signed* correlation nearest to lag 0, after optionally
# smoothing the correlation over ``smooth`` neighbouring lags.
# :func:`mne_dyad.synchrony.peak_picking` returns the peak's lag and correlation per
# window; windows without a local maximum are NaN.
peaks = md.synchrony.peak_picking(
    client, therapist, sfreq, lag=10.0, window=30.0, step=15.0, smooth=5
)
print(
    f"Boker peak lag: median {float(peaks.peak_lag.median()):+.2f} s, "
    f"{float((abs(peaks.peak_lag - true_lag) <= 1).mean()):.0%} of windows within 1 s"
)
fig, ax = plt.subplots(figsize=(8, 3.5), layout="constrained")
minutes = sync.window.values / 60
ax.plot(minutes, best_per_window, "o-", color="0.6", ms=4, label="maximum of |z| (any lag)")
points = ax.scatter(
    peaks.window.values / 60,
    peaks.peak_lag.values,
    c=peaks.peak_r.values,
    cmap="viridis",
    vmin=-1,
    vmax=1,
    zorder=3,
    label="Boker peak nearest lag 0",
)
fig.colorbar(points, ax=ax, label="correlation at the peak (r)")
ax.axhline(true_lag, color="k", ls="--", lw=1, label="true lag")
ax.set(
    xlabel="Window start within the IM segment (min)",
    ylabel="Lag (s): > 0 therapist follows",
    ylim=(-10.5, 10.5),
)
ax.legend(loc="lower right", fontsize="small")

# %%
# Per-segment summaries with compute_synchrony
# --------------------------------------------
# For a study, we do not keep every lag map but summarise each segment.
# :func:`mne_dyad.synchrony.compute_synchrony` runs WCLC inside every annotation of
# each label and averages the per-window summaries over all windows of that label,
# as rMEA's ``MEAccf`` does (its names in brackets):
#
# * ``lag0`` (``lag_zero``): synchrony at lag 0 only;
# * ``all_lags`` (``all_lags``): mean over all lags, the default summary;
# * ``x_leads`` / ``y_leads`` (``s1_lead`` / ``s2_lead``): mean over positive lags
#   (client leads, therapist follows) or negative lags (therapist leads); the
#   role-named copies ``client_leads`` and ``therapist_leads`` hold the same values;
# * ``peak``: the maximum over lags, and ``best_lag`` (``bestLag``) its lag in
#   seconds, each averaged over windows. A maximum over 161 lags is above 0 even
#   without coupling, so ``peak`` is high in CB, too;
# * ``profile``: the mean synchrony at each lag, and ``n_windows``.
#
# In IM, synchrony where the client leads is clearly higher than where the
# therapist leads; in CB, with little coupling, the two are close.
res = md.synchrony.compute_synchrony(raw, lag=10.0, window=30.0, step=15.0)
summaries = ["lag0", "all_lags", "client_leads", "therapist_leads", "peak", "best_lag", "n_windows"]
print(res[summaries].to_dataframe().round(2).T.to_string())

# %%
# The ``profile`` variable shows where the difference comes from: in IM the
# synchrony rises around +3 s, in CB it is flat.
fig, ax = plt.subplots(figsize=(7, 3.5), layout="constrained")
for label, color in (("IM", "C0"), ("CB", "C1")):
    res.profile.sel(segment=label).plot(ax=ax, color=color, label=label)
ax.axvline(true_lag, color="k", ls="--", lw=1, label="true lag")
ax.axvline(0, color="0.5", ls=":", lw=1)
ax.set(
    title="",
    xlabel="Lag (s): > 0 therapist follows client",
    ylabel="Mean synchrony (|Fisher z|)",
)
ax.legend()

# %%
# Choosing window, lag and step
# -----------------------------
# There is no universal setting; the signal and the question decide.
#
# **Window.** A skin conductance response rises over 1-3 s and recovers over several
# seconds, so a response lasts roughly 5-10 s. At typical rates of one to a few
# responses per minute (4 per minute and person in this simulation), a 30 s window
# holds only one to three responses of each person, a 60 s window a few more. A
# single window's correlation therefore rests on very few responses and is noisy;
# the segment summary becomes stable by averaging many windows. Shorter windows
# track faster changes but often hold no response of one of the two people, so their
# correlations are noisier still and the chance level of ``|z|`` is higher (sampling
# noise is never zero after taking absolute values). Longer windows average over
# changes within a segment and leave fewer windows in a short segment.
#
# **Lag.** Bound it by the response latency you expect: an EDA response follows its
# trigger after 1-3 s, and perceiving the partner adds time; Prinz et al. (2021) used
# +-10 s. A bound that is too small misses the true lag (the profile then peaks at the
# edge: a warning sign). A bound that is too large dilutes ``all_lags`` and ``x_leads``
# with lags that carry no coupling, and costs data, since each window spans
# ``window + lag``. The lag cannot exceed the window.
#
# **Step.** Half a window is the usual choice: successive windows overlap by 50 %.
# Smaller steps give a smoother lag map but no new information (the windows share most
# of their data); a step larger than the window skips data.
#
# The table compares settings on this session. ``IM - CB`` is the contrast the
# simulation built in (high vs low coupling) for the client-leads summary; a larger
# contrast means the setting separates the segments better.
settings = [(10.0, 10.0), (30.0, 10.0), (60.0, 10.0), (30.0, 2.0), (30.0, 5.0)]
rows, profiles = [], {}
for window, lag in settings:
    out = md.synchrony.compute_synchrony(raw, lag=lag, window=window, step=window / 2)
    im, cb = out.sel(segment="IM"), out.sel(segment="CB")
    profiles[(window, lag)] = out.profile
    rows.append(
        {
            "window (s)": window,
            "lag (s)": lag,
            "IM windows": int(im.n_windows),
            "IM client_leads": float(im.client_leads),
            "CB client_leads": float(cb.client_leads),
            "IM - CB": float(im.client_leads - cb.client_leads),
            "IM profile peak (s)": float(im.profile.idxmax("lag")),
            "IM mean best_lag (s)": float(im.best_lag),
        }
    )
print(pd.DataFrame(rows).round(2).to_string(index=False))

# %%
# Short windows raise the level of synchrony in both segments (the chance level
# rises) and shrink the IM - CB contrast. The per-window ``best_lag``, averaged over
# windows, is biased toward 0 when windows are short, because maxima at random lags
# on both sides average out; the maximum of the mean profile is more robust. With a
# +-2 s bound the IM profile peaks at its edge (2 s), telling us to widen the bound.
# The +-5 s bound gives the largest contrast because it averages only over lags near
# the true one; in real data the lag is unknown, so fix the bound *before* looking
# (see :ref:`ex-multiverse` for how much such choices matter).
fig, axes = plt.subplots(1, 3, figsize=(11, 3.5), sharey=True, layout="constrained")
for ax, window in zip(axes, (10.0, 30.0, 60.0), strict=True):
    prof = profiles[(window, 10.0)]
    for label, color in (("IM", "C0"), ("CB", "C1")):
        ax.plot(prof.lag, prof.sel(segment=label), color=color, label=label)
    ax.axvline(true_lag, color="k", ls="--", lw=1)
    ax.set(title=f"{window:g} s windows", xlabel="Lag (s): > 0 therapist follows")
axes[0].set_ylabel("Mean synchrony (|Fisher z|)")
axes[0].legend()
