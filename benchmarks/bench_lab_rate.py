"""A study recorded at a lab rate, through ``mne-dyad run``, against the same study at 8 Hz.

Writes a simulated study as the files a lab has: per session, each person's EDA as
a FIF recording at the native rate (1000 Hz by default; one ``gsr`` channel in
siemens, converter steps of 0.0015 uS, with a ``meas_date``), a coding sheet with
the IM and CB segments, and a manifest. The same recordings are written again at
8 Hz (resampled).
Each is run with ``mne-dyad run`` in a fresh process (the package's defaults:
synchrony, chance test and correction, variance decomposition; no alliance file, so
no model), and the script prints, measured in this one run:

- the wall time and the peak memory (largest resident set) of each run, and their
  ratios (native / 8 Hz);
- the largest difference between the two runs' synchrony cubes.

Sessions are brought to the 8 Hz analysis rate as they load (``[combine] sfreq``,
default 8), so the memory of the native run is bounded by one session at native
rate plus the 8 Hz study: it should not grow with the number of sessions. Pass two
sizes to ``--sessions`` (for example ``32,128``) to see it.

Run: python benchmarks/bench_lab_rate.py [--sessions 128] [--minutes 50]
[--sfreq 1000] [--workdir DIR]
"""

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mne
import numpy as np
import xarray as xr

import mne_dyad as md

T0 = dt.datetime(2024, 5, 6, 9, 0, 0, tzinfo=dt.UTC)
#: Wrapper that runs one command and prints its wall time and peak memory (kB).
_MEASURE = (
    "import resource, subprocess, sys, time; t = time.perf_counter(); "
    "rc = subprocess.run(sys.argv[1:]).returncode; "
    "print(rc, time.perf_counter() - t, "
    "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def write_studies(roots, n_sessions, minutes, sfreq, seed=0):
    """Write ``n_sessions`` sessions (4 per dyad) at ``sfreq`` and again at 8 Hz.

    ``roots`` is ``(native folder, 8 Hz folder)``; the 8 Hz recordings are the
    native ones resampled (polyphase), so both studies hold the same EDA. Returns
    the two manifests.
    """
    rows = ["dyad,session,client_file,therapist_file,coding_file"]
    duration = minutes * 60.0
    for root in roots:
        root.mkdir(parents=True, exist_ok=True)
    for i in range(n_sessions):
        dyad, session = f"D{i // 4 + 1:03d}", i % 4 + 1
        raw = md.simulation.simulate_session(
            duration=duration,
            sfreq=sfreq,
            noise=0.0015,
            adc_step=0.0015,
            coupling={"IM": 0.6, "CB": 0.2},
            seed=seed + i,
            verbose=False,
        )
        for role in ("client", "therapist"):
            one = raw.copy().pick([role])
            one.rename_channels({role: "EDA"})
            one.set_annotations(None)
            one.set_meas_date(T0 + dt.timedelta(days=i))
            name = f"{dyad}_{session}_{role}_raw.fif"
            one.save(roots[0] / name, overwrite=True, verbose=False)
            one.resample(8.0, method="polyphase", verbose=False)
            one.save(roots[1] / name, overwrite=True, verbose=False)
        coding = ["label,onset,duration"] + [
            f"{d},{o:.3f},{dur:.3f}"
            for o, dur, d in zip(
                raw.annotations.onset,
                raw.annotations.duration,
                raw.annotations.description,
                strict=True,
            )
        ]
        for root in roots:
            (root / f"{dyad}_{session}_coding.csv").write_text("\n".join(coding) + "\n")
        rows.append(
            f"{dyad},{session},{dyad}_{session}_client_raw.fif,"
            f"{dyad}_{session}_therapist_raw.fif,{dyad}_{session}_coding.csv"
        )
    manifests = []
    for root in roots:
        manifest = root / "manifest.csv"
        manifest.write_text("\n".join(rows) + "\n")
        (root / "params.toml").write_text('seed = 1\n\n[readers.mne]\nchannel = "EDA"\n')
        manifests.append(manifest)
    return manifests


def run(manifest, out):
    """``mne-dyad run`` in a fresh process: (seconds, peak memory in GB)."""
    cli = [sys.executable, "-m", "mne_dyad.cli", "run", str(manifest), "--out", str(out)]
    cli += ["--config", str(manifest.parent / "params.toml")]
    line = subprocess.run(
        [sys.executable, "-c", _MEASURE, *cli], capture_output=True, text=True, check=True
    ).stdout.split()
    rc, seconds, kb = int(line[-3]), float(line[-2]), int(line[-1])
    if rc != 0:
        raise RuntimeError(f"mne-dyad run failed on {manifest} (exit {rc}).")
    return seconds, kb / 1024**2


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", default="128", help="number(s) of sessions, e.g. 32,128")
    parser.add_argument("--minutes", type=float, default=50.0)
    parser.add_argument("--sfreq", type=float, default=1000.0)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    mne.set_log_level("ERROR")
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench_lab_rate_"))
    print(f"files in {work}")
    for n in (int(v) for v in args.sessions.split(",")):
        roots = (work / f"{n}_{args.sfreq:g}Hz", work / f"{n}_8Hz")
        t0 = time.perf_counter()
        manifests = write_studies(roots, n, args.minutes, args.sfreq)
        size = sum(f.stat().st_size for f in roots[0].glob("*.fif")) / 1024**3
        print(
            f"{n} sessions x {args.minutes:g} min at {args.sfreq:g} Hz and at 8 Hz: written "
            f"in {time.perf_counter() - t0:.0f} s ({size:.2f} GB of native recordings)"
        )
        measured = []
        for root, manifest in zip(roots, manifests, strict=True):
            seconds, peak = run(manifest, root / "out")
            measured.append((seconds, peak, root / "out" / "cube.nc"))
            print(f"  {root.name}: mne-dyad run {seconds:.1f} s, peak memory {peak:.2f} GB")
        (t_n, m_n, cube_n), (t_8, m_8, cube_8) = measured
        with xr.open_dataset(cube_n) as a, xr.open_dataset(cube_8) as b:
            diff = float(np.nanmax(np.abs(a.all_lags.values - b.all_lags.values)))
            params = json.loads(a.attrs["mne_dyad_params"])
        print(
            f"  {args.sfreq:g} Hz / 8 Hz: time {t_n / t_8:.2f}x, memory {m_n / m_8:.2f}x; "
            f"analysed at {params['sfreq']:g} Hz (native {params['native_sfreq']}); "
            f"max |all_lags difference| {diff:.4f}"
        )


if __name__ == "__main__":
    main()
