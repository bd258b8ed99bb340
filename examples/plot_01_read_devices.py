"""
.. _ex-read-devices:

=========================================
Reading device files and combining a dyad
=========================================

In a real study each person wears their own sensor: here the client an Empatica E4
wristband (4 Hz) and the therapist a lab amplifier whose software exports a table
(8 Hz). The two devices start at different moments, on clocks that disagree by a
few seconds, and a coder notes the imagery (IM) and cognitive-behavioural (CB)
segments in a separate sheet. This example writes such files from a simulated
session, reads them back with :func:`mne_dyad.io.read_raw_e4`,
:func:`mne_dyad.io.read_raw_tabular` and :func:`mne_dyad.io.read_segments`, puts
the two people on one time base with :func:`mne_dyad.io.combine_dyad`, and checks
that nothing was lost on the way: the values, the segment times and the synchrony
all match the simulation.
"""

# %%
# A simulated session to write out
# --------------------------------
# :func:`mne_dyad.simulation.simulate_session` gives both people's EDA at 8 Hz, in
# siemens (MNE's unit for ``gsr`` channels). The therapist follows a share of the
# client's skin conductance responses 3 s later: 80 % of them in IM segments, 20 %
# in CB segments. We fix the segments so the coding sheet below has round times.
import datetime as dt
import os
import tempfile
import zipfile
from pathlib import Path

import matplotlib.pyplot as plt
import mne
import numpy as np
import pandas as pd
from scipy.signal import resample_poly

import mne_dyad as md

quick = os.environ.get("MNE_DYAD_EXAMPLES_QUICK", "0") == "1"
mne.set_log_level("WARNING")

duration = 900.0 if quick else 1800.0
block = duration / 6  # IM, CB, IM, CB blocks of a sixth of the session
segments = [
    (label, 60.0 + i * (block + 30.0), block) for i, label in enumerate(["IM", "CB", "IM", "CB"])
]
truth = md.simulation.simulate_session(
    duration=duration,
    sfreq=8.0,
    coupling={"IM": 0.8, "CB": 0.2},
    lag=3.0,
    segments=segments,
    seed=7,
)
true_info = md.io.get_session_info(truth)
print(true_info["coupling"], "true lag:", true_info["lag_s"], "s")

# %%
# Write the files the devices would produce
# -----------------------------------------
# Wall-clock story of the session (all times UTC):
#
# - The client's E4 starts at 10:00:00. The E4 samples EDA at 4 Hz, so we
#   low-pass and downsample the simulated 8 Hz signal by 2. Its export is a zip
#   whose ``EDA.csv`` has the start time (Unix seconds) on the first row, the
#   sampling rate (Hz) on the second, then one value per row in microsiemens.
#   The therapist pressed the E4's button at the start of each IM segment; the
#   export lists those presses in ``tags.csv`` as Unix times.
# - The therapist's amplifier starts 20 s later. Its table has a ``time`` column
#   counting seconds from its own start and an ``eda`` column in microsiemens.
#   The table holds no date: the start time comes from the lab PC's log, and that
#   PC's clock runs 2 s behind the E4's.
tmp = tempfile.TemporaryDirectory()
folder = Path(tmp.name)
start = dt.datetime(2019, 3, 4, 10, 0, 0, tzinfo=dt.UTC)
client_true, therapist_true = truth.get_data() * 1e6  # microsiemens

client_4hz = resample_poly(client_true, 1, 2)  # the wristband's 4 Hz signal
eda_csv = f"{start.timestamp():.6f}\n4.000000\n" + "".join(f"{v:.6f}\n" for v in client_4hz)
im_onsets = [onset for label, onset, _ in segments if label == "IM"]
tags_csv = "".join(f"{start.timestamp() + t:.2f}\n" for t in im_onsets)
e4_zip = folder / "1551693600_A01F3B.zip"
with zipfile.ZipFile(e4_zip, "w") as zf:
    zf.writestr("EDA.csv", eda_csv)
    zf.writestr("tags.csv", tags_csv)

late = 20.0  # the amplifier starts 20 s after the wristband
skew = 2.0  # the lab PC's clock runs 2 s behind
keep = therapist_true[int(late * 8) :]
therapist_csv = folder / "therapist_amplifier.csv"
pd.DataFrame({"time": np.arange(keep.size) / 8.0, "eda": keep}).to_csv(
    therapist_csv, index=False, float_format="%.6f"
)
therapist_logged_start = start + dt.timedelta(seconds=late - skew)
print(eda_csv.splitlines()[:4])
print(therapist_csv.read_text().splitlines()[:3])

# %%
# The coder's segment sheet
# -------------------------
# Coders watch the session video and note where each segment starts and ends. Here
# the times are times of day (``hh:mm:ss``) and the labels are the coder's own
# words. :func:`mne_dyad.io.read_segments` also reads ``onset`` + ``duration``
# columns, seconds or ``mm:ss`` counted from the start of the recording
# (``reference="session"``, the default), and XLSX files.
sheet = folder / "coding.csv"
words = {"IM": "imagery", "CB": "cognitive"}
pd.DataFrame(
    {
        "segment": [words[label] for label, _, _ in segments],
        "start": [(start + dt.timedelta(seconds=o)).strftime("%H:%M:%S") for _, o, _ in segments],
        "end": [(start + dt.timedelta(seconds=o + d)).strftime("%H:%M:%S") for _, o, d in segments],
    }
).to_csv(sheet, index=False)
print(sheet.read_text())

# %%
# Read each person's recording
# ----------------------------
# Every reader returns a one-channel :class:`mne.io.Raw` of type ``gsr`` in siemens.
# :func:`mne_dyad.io.read_raw_e4` takes the zip (or the ``EDA.csv`` inside an
# unpacked export folder, with ``tags.csv`` beside it), sets ``meas_date`` from the
# first row and turns the button presses into ``E4_tag`` annotations.
# :func:`mne_dyad.io.read_raw_tabular` needs the timing: a ``time_column`` (the rate
# is taken from its steps, which must be regular) or ``sfreq=``. Its ``unit=``
# says what the numbers are in (default microsiemens).
client = md.io.read_raw_e4(e4_zip)
therapist = md.io.read_raw_tabular(therapist_csv, time_column="time", eda_column="eda")
therapist.set_meas_date(therapist_logged_start)  # from the lab log
print(client)
print(therapist)
print("E4 tags at", client.annotations.onset, "s")

# %%
# The files keep six decimals of microsiemens, so reading them back changes the
# values by at most 5e-13 S:
diff_c = np.abs(client.get_data()[0] - client_4hz * 1e-6).max()
diff_t = np.abs(therapist.get_data()[0] - keep * 1e-6).max()
print(f"max |read - written|: client {diff_c:.1e} S, therapist {diff_t:.1e} S")

# %%
# Combine the two recordings into one session
# -------------------------------------------
# :func:`mne_dyad.io.combine_dyad` makes the session Raw that every later step
# uses: two ``gsr`` channels named by role, one sampling rate, one time base.
#
# - **Sampling rate.** Both people are brought to the analysis rate, 8 Hz by
#   default (``sfreq=``), with a polyphase filter: here the E4 is upsampled and
#   the amplifier's table is kept as it is. EDA's content lies below about 2 Hz,
#   so 8 Hz keeps every response's shape and resolves lags in 0.125 s steps,
#   while a lab amplifier's 1000-2000 Hz would make every later step 100-250
#   times slower for the same values. Every session of a study then has one
#   rate, whatever device recorded it.
# - **Clock time.** Both recordings have a ``meas_date``, so they are placed on
#   the wall clock and cropped to the span where both exist.
# - **Clock skew.** ``offset`` (seconds) is added to the therapist's clock. A
#   device that runs 2 s behind needs ``offset=2.0``. Measure the skew once from an
#   event that both devices marked (a button press, a clap); it directly shifts
#   every lag.
#
# The ids passed here are stored in the Raw (see below) and used by
# :func:`mne_dyad.synchrony_cube` to place the session in the study.
session = md.io.combine_dyad(
    client, therapist, offset=skew, dyad="D01", session=1, therapist_id="T01"
)
print(session)
print("starts at", session.info["meas_date"])

# %%
# Now the segments. With ``reference="wallclock"`` the times of day are made
# relative to the session's ``meas_date``, so they land in the right place even
# though the session starts 20 s after the E4. ``mapping`` turns the coder's words
# into the labels the analysis uses; a label outside ``labels`` (``IM``, ``CB``) is
# an error rather than a silently ignored segment.
coded = md.io.read_segments(
    sheet,
    mapping={"imagery": "IM", "cognitive": "CB"},
    reference="wallclock",
    raw=session,
)
# Read with ``raw=session``, the segments are on the session's clock, like the E4
# tags it already holds, so the two simply add up.
session.set_annotations(session.annotations + coded)
print(session.annotations)
shift = im_onsets - (coded.onset[coded.description == "IM"] - session.first_time)
print("IM onsets, simulation time minus session time:", shift, "s")

# %%
# What the session remembers
# --------------------------
# :func:`mne_dyad.io.get_session_info` returns the metadata that mne-dyad keeps as
# JSON in ``raw.info["description"]``: the roles (their order sets the sign of a
# lag: positive means the therapist follows), the ids, and how the two recordings
# were aligned: what was cropped from each (seconds) and their original rates.
info = md.io.get_session_info(session)
print({k: info[k] for k in ("dyad", "session", "therapist", "roles")})
print(info["alignment"])

# %%
# The session, with IM and CB segments shaded, in microsiemens:
fig = md.viz.plot_dyad(session, show=False)

# %%
# Choosing the rate
# -----------------
# At the default 8 Hz the therapist's samples are untouched and the E4 is
# upsampled. The therapist's channel then equals the simulated signal to the
# file's precision; the client's differs by what the wristband's 4 Hz cannot carry
# (here sensor noise above 2 Hz), and most at the very end, where the resampling
# filter runs out of data. Upsampling adds samples, not information.
# ``sfreq=None`` would keep the lower native rate (the E4's 4 Hz) instead.
at_8hz = session
client_8hz, therapist_8hz = at_8hz.get_data() * 1e6
err_c = np.abs(client_8hz - client_true[int(late * 8) :])
err_t = np.abs(therapist_8hz - therapist_true[int(late * 8) :])
print(f"{at_8hz.info['sfreq']:g} Hz; therapist max |error| {err_t.max() * 1e-6:.1e} S")
print(
    f"client |error|: median {np.median(err_c):.4f} µS, 99th percentile "
    f"{np.percentile(err_c, 99):.4f} µS, max {err_c.max():.3f} µS"
)

# %%
# Did the round trip change the science?
# --------------------------------------
# Windowed cross-lagged correlation (Kleinbub & Ramseyer 2020; Boker et al. 2002
# for the windowing) on the simulated session and on the session rebuilt from the
# files: ``x_leads`` is the mean Fisher z of the absolute correlation over lags
# where the therapist follows. The lag profile (mean over windows per lag) should
# peak near the true 3 s lag. To see why the clock skew matters we also combine
# without ``offset``: the therapist then seems to answer 2 s sooner.
params = dict(lag=8.0, window=30.0, step=15.0)
skewed = md.io.combine_dyad(client, therapist, verbose=False)  # offset forgotten
skewed.set_annotations(session.annotations)
syncs = {
    name: md.synchrony.compute_synchrony(raw, **params)
    for name, raw in [("simulated", truth), ("from files", session), ("no offset", skewed)]
}
table = pd.DataFrame(
    {
        name: {
            "x_leads IM": float(sync.x_leads.sel(segment="IM")),
            "x_leads CB": float(sync.x_leads.sel(segment="CB")),
            "IM peak lag (s)": float(sync.profile.sel(segment="IM").idxmax("lag")),
        }
        for name, sync in syncs.items()
    }
).T
print(table.round(3))

# %%
# The session from the files matches the simulation: the synchrony values differ
# only by what the E4's 4 Hz cannot carry, and IM synchrony stays above CB
# synchrony as the coupling (0.8 vs 0.2) says. Forgetting the offset moves the peak lag by the 2 s
# skew, to about 1 s, and lowers IM ``x_leads``. ``x_leads`` averages the lags
# above 0 (0.125 to 8 s in steps of 0.125 s at 8 Hz); the raised part of the profile
# around the peak is a few seconds wide, so with the peak this close to 0 part of
# it now lies at lags of 0 or below, which ``x_leads`` leaves out (the figure
# shows the shifted profile). A clock skew biases both who seems to lead and how
# much synchrony is found.
fig, ax = plt.subplots(figsize=(7, 3), layout="constrained")
for name, sync in syncs.items():
    ax.plot(sync.lag, sync.profile.sel(segment="IM"), label=name)
ax.axvline(true_info["lag_s"], color="k", ls="--", lw=1, label="true lag")
ax.set(
    xlabel="Lag (s; positive: therapist follows)",
    ylabel="Mean |Fisher z|",
    title="WCLC lag profile in IM segments",
)
ax.legend()

# %%
# A typical mistake and its message
# ---------------------------------
# Units are the most common error with EDA files: exports say microsiemens,
# amplifier software may say siemens or nanosiemens, and a factor of a million is
# easy to miss. mne-dyad checks that values are plausible for skin conductance and
# says what to change, naming the file. Here the therapist's table is read with
# ``unit="S"`` although it holds microsiemens; the fix is the reader's
# ``unit="uS"`` (the default):
try:
    md.io.read_raw_tabular(therapist_csv, time_column="time", unit="S")
except ValueError as err:
    print(str(err).replace(str(folder), "<tmp>"))

# %%
# Other formats
# -------------
# All readers give the same one-channel Raw in siemens, so everything above applies:
#
# - :func:`mne_dyad.io.read_raw_mne`: any file MNE-Python reads (EDF, BDF,
#   BrainVision, FIF, ...) with ``channel=`` the EDA channel. MNE already returns
#   ``gsr`` channels in siemens; set ``unit="uS"`` if the file stores microsiemens
#   in a channel MNE does not convert. ``meas_date`` and annotations are kept.
# - :func:`mne_dyad.io.read_raw_bids_physio`: BIDS ``*_physio.tsv.gz`` with its JSON
#   sidecar (``SamplingFrequency``, ``Columns``, optional ``Units``).
# - :func:`mne_dyad.io.read_raw_acq`: Biopac AcqKnowledge ``.acq`` files (needs the
#   optional ``bioread``); the unit is read from the channel.
#
# For instance, the therapist's recording saved as FIF (as an acquisition program
# built on MNE would) reads back with its clock time; FIF stores single precision,
# hence differences of a few 1e-13 S:
fif = folder / "therapist_raw.fif"
therapist.save(fif)
from_fif = md.io.read_raw_mne(fif, channel="EDA")
diff = np.abs(from_fif.get_data() - therapist.get_data()).max()
print(f"meas_date {from_fif.info['meas_date']}, max |difference| {diff:.1e} S")

# %%
# A whole study from a manifest
# -----------------------------
# For many sessions, list the files in a manifest: one row per session with
# ``dyad``, ``session``, ``client_file``, ``therapist_file``, ``coding_file`` and
# optionally ``therapist`` and ``alliance_file``; paths are relative to the
# manifest's folder (a TOML file with ``[[session]]`` tables works too).
# :func:`mne_dyad.io.read_study` checks every row and file before reading any
# recording, then reads each session on first use, choosing the reader by the
# file name (``*.zip``/``EDA.csv``: E4; ``.csv``/``.tsv``: table; ``.acq``; else
# MNE). ``options`` passes the same reader, segment and combine arguments as above.
# The same manifest drives the command line ``mne-dyad run manifest.csv``.
#
# Here the client's file is the unpacked E4 folder's ``EDA.csv`` and the therapist's
# the FIF file, which carries its start time.
(folder / "D01_s1" / "client").mkdir(parents=True)
(folder / "D01_s1" / "client" / "EDA.csv").write_text(eda_csv)
manifest = folder / "manifest.csv"
pd.DataFrame(
    [
        {
            "dyad": "D01",
            "session": 1,
            "therapist": "T01",
            "client_file": "D01_s1/client/EDA.csv",
            "therapist_file": "therapist_raw.fif",
            "coding_file": "coding.csv",
        }
    ]
).to_csv(manifest, index=False)
print(manifest.read_text())
study = md.io.read_study(
    manifest,
    options={
        "readers": {"mne": {"channel": "EDA"}},
        "segments": {"mapping": {"imagery": "IM", "cognitive": "CB"}, "reference": "wallclock"},
        "combine": {"offset": skew},
    },
)
print(study)
from_manifest = study.raws[("D01", 1)]
diff = np.abs(from_manifest.get_data() - session.get_data()).max()
print(f"manifest session vs hand-built session: max |difference| {diff:.1e} S")
print(from_manifest.annotations)

# %%
# The files were only needed for this example:
tmp.cleanup()
