"""Does ``mne-dyad run`` find coupling where there is none? A negative and a positive control.

A validation that is not circular: the data come from the EDA generator (skin
conductance responses, not the fitted model), are written to disk as the files a
lab has, and are analysed by the real command line, ``mne-dyad run``, in a
subprocess, exactly as a user would.

Generator
---------
:func:`mne_dyad.simulation.simulate_study`, shaped like the 2019 trial: 31 dyads x
6 sessions, 128 usable sessions at 8 Hz, of 15 min by default (``--duration``;
``--quick``: 8 dyads x 4 sessions, 28 usable, 15 min). Sessions are shorter than
the trial's because of time: one ``mne-dyad run`` of 30-min sessions took 195 s
(synchrony 15 s, 100 double pseudo-dyad surrogates 91 s, chance model 18 s,
alliance model 45 s, report 17 s, start-up 8 s) on a shared 2-core machine, so a
replication (two scenarios x three runs) took about 20 min; 15-min sessions
halve the surrogates' share. About 100 s of each run does not depend on the
duration (start-up, compiling two models, the report). In both scenarios each
session's arousal (the SCR rate of both partners) varies with SD 0.5 on the log
scale (``scr_rate_sd=0.5``), and the within-dyad arousal raises bond by 0.5
scale points per SD (``arousal_alliance={"bond": 0.5}``): the arousal confound.

- **negative**: no coupling (``coupling_mean={"IM": 1e-6, "CB": 1e-6}``,
  ``sd_dyad=0``, ``sd_session=0``) and no coupling effect (``betas`` all 0).
  The true ``beta[within, IM, bond]`` is 0; an interval that excludes 0 is a
  false positive (the arousal confound seen as synchrony).
- **positive**: the simulator's default coupling (median IM 0.5, CB 0.4, logit
  SDs 0.35 between dyads, 0.9 between sessions) and ``betas={"bond": 0.5,
  "task": 0, "goal": 0}``: the standardised within-dyad IM coupling raises bond
  by 0.5 scale points per SD (the residual SD of a scale is 0.5 and the default
  effect 0.3), with the same arousal confound. The share of intervals above 0
  is the power.

Each replication uses one seed for both scenarios (common random numbers: the
same usable sessions, arousal draws and alliance noise).

Files
-----
Per session: each partner's EDA as an Empatica E4 export (``EDA.csv``: start
time, sampling rate, microsiemens, 6 decimals), a coding sheet ``coding.csv``
(``segment, onset, duration``, seconds from the session start, labels IM/CB);
one alliance table ``alliance.csv`` (``dyad, session, bond, task, goal``, the
simulated scale means) and ``manifest.csv`` (``dyad, session, therapist,
client_file, therapist_file, coding_file, alliance_file``). The package has no
writer for a simulated study, so the script writes these itself (as
``tests/test_study.py`` does).

Variants
--------
Three ``mne-dyad run <manifest> --config <toml> --out <dir>`` runs per study, each
with the package defaults for everything except:

- every run: ``[alliance] key = {bond = ["bond"], ...}`` and ``scale = [0, 12]``
  (the alliance file holds scale means, not SAI items; the range only has to
  contain every simulated score), a top-level ``seed`` (the replication's), and
  ``[variance] enabled = false`` to save time (the variance decomposition does
  not feed the alliance model). ``[chance]`` stays on in all three: the
  correction needs its surrogates.
- **corrected**: the defaults: chance-corrected synchrony, whichever summary and
  surrogate kind the package's defaults name (``all_lags_es`` over circular
  shifts at the time of writing; ``all_lags_excess`` over double pseudo-dyads
  before). Each run's summary and kind are read back from its
  ``provenance.json`` and recorded with the package's git commit, and the table
  keeps runs of different summaries or kinds apart.
- **raw**: ``[model] summary = "all_lags"`` and ``[variance] summary =
  "all_lags"`` (raw synchrony, the 2019 way), and ``[chance] enabled = false``:
  raw synchrony needs no surrogates, and skipping them saves half the run.
  (Replications 0-4 kept the chance step on; it does not touch the model.)
- **corrected+arousal** (only in the first ``--arousal-reps`` replications, 20 by
  default: it informs a choice of default, it is not the check): the defaults
  plus ``[model] covariates = ["client_scr_rate", "therapist_scr_rate"]`` (each
  partner's SCR rate per cell, split within/between dyads like synchrony).

Output
------
For each scenario x variant, over replications: the share of 89% intervals of
``beta[within, IM, bond]`` that contain 0 (negative control: target >= 85%),
the share that lie above 0 (positive control: the power) and below 0, the mean posterior
mean and the mean interval width, each with its Monte Carlo SE
(``sqrt(p (1 - p) / R)`` for shares, ``SD / sqrt(R)`` for means). Printed and
written to ``benchmarks/results/negative_control_run.csv``; one row per
replication, scenario and variant goes to
``benchmarks/results/negative_control_run_raw.csv`` as soon as it is done (the
script resumes from it: runs already there are skipped; a study is simulated
again from its seed, the same files). ``--quick``
writes ``negative_control_run_quick*.csv`` instead.

Run
---
::

    nice -n 10 python benchmarks/negative_control_run.py [n_replications] [--quick] [--jobs 2]

``n_replications`` defaults to 40. One ``mne-dyad run`` of 15-min sessions takes
about 150 s with the chance step (100 circular shifts per cell: 85 s of it) and
about 65 s without; it is single-threaded for most of that time, so ``--jobs 2``
runs two replications at once on 2 cores. 40 replications take about 5 hours
that way. ``--aggregate`` only
rebuilds the table from the raw CSV. The study files of a replication are
written under ``--workdir`` (default: a temporary folder) and removed once its
runs are done, unless ``--keep``.
"""

import argparse
import concurrent.futures
import datetime as dt
import fcntl
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import mne_dyad as md

RESULTS = Path(__file__).parent / "results"
MNE_DYAD = Path(sys.executable).with_name("mne-dyad")
COEF = "beta[within, IM, bond]"
BASE_SEED = 20190
AROUSAL = {"bond": 0.5}
SIZES = {
    "full": dict(n_dyads=31, n_sessions=6, n_usable=128),
    "quick": dict(n_dyads=8, n_sessions=4, n_usable=28),
}
DURATION = 900.0  # seconds per session (the trial's were about 50 min; see above)
SCENARIOS = {
    "negative": dict(
        coupling_mean={"IM": 1e-6, "CB": 1e-6},
        sd_dyad=0.0,
        sd_session=0.0,
        betas={"bond": 0.0, "task": 0.0, "goal": 0.0},
    ),
    "positive": dict(betas={"bond": 0.5, "task": 0.0, "goal": 0.0}),
}
TRUE_BETA = {"negative": 0.0, "positive": 0.5}
#: The alliance file holds scale means: name its columns and a range containing them.
ALLIANCE = (
    '[alliance]\nkey = {bond = ["bond"], task = ["task"], goal = ["goal"]}\nscale = [0, 12]\n'
)
VARIANTS = {
    "corrected": "",
    "raw": '[model]\nsummary = "all_lags"\n',
    "corrected+arousal": '[model]\ncovariates = ["client_scr_rate", "therapist_scr_rate"]\n',
}


def _config(variant, seed):
    """The params.toml of one run."""
    text = f"seed = {seed}\n\n{ALLIANCE}\n"
    variance = "[variance]\nenabled = false\n"
    if variant == "raw":
        # raw synchrony needs no surrogates: the chance step does not feed its model
        variance += 'summary = "all_lags"\n\n[chance]\nenabled = false\n'
    return text + variance + ("\n" + VARIANTS[variant] if VARIANTS[variant] else "")


def _simulate(scenario, seed, shape):
    return md.simulation.simulate_study(
        **shape,
        **SCENARIOS[scenario],
        scr_rate_sd=0.5,
        arousal_alliance=AROUSAL,
        seed=seed,
        verbose=False,
    )


def _write_e4(path, raw, role, start):
    path.parent.mkdir(parents=True, exist_ok=True)
    values = raw.get_data(picks=role)[0] * 1e6  # siemens -> microsiemens
    body = "\n".join(f"{v:.6f}" for v in values)
    path.write_text(f"{start:.1f}\n{raw.info['sfreq']:g}\n{body}\n")


def write_study(sim, root):
    """Write a simulated study as a lab's files and return the manifest's path."""
    root.mkdir(parents=True, exist_ok=True)
    first = dt.datetime(2019, 1, 7, 9, tzinfo=dt.UTC)
    therapist_of = dict(
        zip(sim.truth.dyad.values, sim.truth.therapist.values.astype(str), strict=True)
    )
    rows = []
    for k, ((dyad, session), raw) in enumerate(sim.raws.items()):
        folder = Path(f"{dyad}_s{session}")
        start = (first + dt.timedelta(days=k)).timestamp()
        for role in ("client", "therapist"):
            _write_e4(root / folder / role / "EDA.csv", raw, role, start)
        ann = raw.annotations
        pd.DataFrame(
            {
                "segment": ann.description,
                "onset": np.round(ann.onset - raw.first_time, 3),
                "duration": np.round(ann.duration, 3),
            }
        ).to_csv(root / folder / "coding.csv", index=False)
        rows.append(
            {
                "dyad": dyad,
                "session": session,
                "therapist": therapist_of[dyad],
                "client_file": f"{folder}/client/EDA.csv",
                "therapist_file": f"{folder}/therapist/EDA.csv",
                "coding_file": f"{folder}/coding.csv",
            }
        )
    # the alliance questionnaire: every session of every dyad, with or without EDA
    sai = sim.alliance[["bond", "task", "goal"]].to_dataframe().reset_index()
    sai = sai.drop(columns="therapist", errors="ignore").round(4)
    sai.to_csv(root / "alliance.csv", index=False)
    pd.DataFrame(rows).assign(alliance_file="alliance.csv").to_csv(
        root / "manifest.csv", index=False
    )
    return root / "manifest.csv"


def _git_commit():
    """The package's checked-out commit (it may change while the script runs)."""
    proc = subprocess.run(
        ["git", "-C", str(Path(md.__file__).parent), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
    )
    return proc.stdout.strip() if proc.returncode == 0 else ""


def _mne_dyad(*args, timeout):
    cmd = [str(MNE_DYAD), "run", *map(str, args)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return cmd, proc


def _run_variant(manifest, variant, seed, workdir, timeout, dry_run=False):
    """Run one variant through the command line; return its result row."""
    config = workdir / f"{variant}.toml"
    config.write_text(_config(variant, seed))
    if dry_run:
        cmd, proc = _mne_dyad(manifest, "--config", config, "--dry-run", timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(
                f"`{' '.join(cmd)}` failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
            )
    out = workdir / f"out_{variant}"
    t0 = time.perf_counter()
    cmd, proc = _mne_dyad(
        manifest, "--out", out, "--config", config, "--quiet", "--overwrite", timeout=timeout
    )
    seconds = time.perf_counter() - t0
    row = {"variant": variant, "seconds": round(seconds, 1), "returncode": proc.returncode}
    if proc.returncode != 0:
        error = (proc.stderr.strip() or proc.stdout.strip())[-1500:]
        print(f"  FAILED: {' '.join(cmd)}\n{error}", flush=True)
        return {**row, "status": "failed", "error": error.replace("\n", " | ")}
    summary = pd.read_csv(out / "summary.csv", index_col="coefficient")
    prov = json.loads((out / "provenance.json").read_text())
    model = prov["config"]["model"]
    beta = summary.loc[COEF]
    return {
        **row,
        "status": "ok",
        "error": "",
        "summary": model["summary"],
        "covariates": " ".join(model.get("covariates", [])),
        "chance_kind": prov["config"]["chance"]["kind"],
        "skipped": " ".join(sorted(prov["skipped"])),
        "mean": beta["mean"],
        "sd": beta["sd"],
        "ci_lower": beta["ci_lower"],
        "ci_upper": beta["ci_upper"],
        "p_gt_0": beta["p_gt_0"],
        "r_hat": beta["r_hat"],
        "ess_bulk": beta["ess_bulk"],
        "max_r_hat": summary["r_hat"].max(),
        "contains_0": bool(beta["ci_lower"] <= 0 <= beta["ci_upper"]),
    }


def _variants(rep, arousal_reps):
    """The variants of replication ``rep``: the arousal one only in the first ``arousal_reps``."""
    return [v for v in VARIANTS if v != "corrected+arousal" or rep < arousal_reps]


def _replication(
    scenario, rep, shape, workroot, timeout, keep, dry_run, done, raw_path, arousal_reps
):
    """Simulate and write one study, run the variants not yet ``done``, append each row."""
    warnings.simplefilter("ignore")
    seed = BASE_SEED + rep
    workdir = workroot / f"{scenario}_r{rep:03d}"
    if workdir.exists():
        shutil.rmtree(workdir)
    t0 = time.perf_counter()
    sim = _simulate(scenario, seed, shape)
    manifest = write_study(sim, workdir / "study")
    t_write = time.perf_counter() - t0
    common = {
        "scenario": scenario,
        "replication": rep,
        "seed": seed,
        **shape,
        "true_beta": TRUE_BETA[scenario],
        "sd_within_im_coupling": sim.params["sd_within_im_coupling"],
        "git_commit": _git_commit(),
    }
    todo = [v for v in _variants(rep, arousal_reps) if (scenario, rep, v) not in done]
    for k, variant in enumerate(todo):
        row = _run_variant(manifest, variant, seed, workdir, timeout, dry_run and k == 0)
        _append([{**common, **row}], raw_path)  # at once: a killed run loses one variant
        status = (
            f"{row['summary']}: {row['mean']:+.3f} [{row['ci_lower']:+.3f}, {row['ci_upper']:+.3f}]"
            if row["status"] == "ok"
            else "failed"
        )
        print(f"  {scenario} r{rep} {variant:18s} {row['seconds']:6.0f} s  {status}", flush=True)
    if not keep:
        shutil.rmtree(workdir, ignore_errors=True)
    print(
        f"{scenario} replication {rep}: simulate+write {t_write:.0f} s, total "
        f"{time.perf_counter() - t0:.0f} s",
        flush=True,
    )


def _append(rows, path):
    """Append rows to the raw CSV, in the columns of its header (under a file lock)."""
    df = pd.DataFrame(rows)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if path.exists():
            header = pd.read_csv(path, nrows=0).columns
            extra = sorted(set(df.columns) - set(header))
            if extra:
                raise RuntimeError(f"{path} has no column(s) {extra}; move it away.")
            df = df.reindex(columns=header)
        df.to_csv(path, mode="a", header=not path.exists(), index=False)


def _share(flags):
    p, n = float(np.mean(flags)), len(flags)
    return p, math.sqrt(p * (1 - p) / n)


def _mean(values):
    values = np.asarray(values, float)
    se = values.std(ddof=1) / math.sqrt(values.size) if values.size > 1 else np.nan
    return float(values.mean()), float(se)


def aggregate(raw):
    """One row per scenario x variant: shares and means with Monte Carlo SEs."""
    out = []
    raw = raw.fillna({"summary": "", "chance_kind": ""})
    keys = ["scenario", "variant", "summary", "chance_kind"]
    for (scenario, variant, summary, kind), df in raw.groupby(keys, sort=False):
        ok = df[df.status == "ok"]
        row = {
            "scenario": scenario,
            "variant": variant,
            "summary": summary,
            "chance_kind": kind,
            "n_replications": len(ok),
            "n_failed": int((df.status != "ok").sum()),
        }
        if len(ok):
            contains = ok.contains_0.astype(str).str.lower().eq("true").to_numpy()
            above = (ok.ci_lower > 0).to_numpy()
            below = (ok.ci_upper < 0).to_numpy()
            width = (ok.ci_upper - ok.ci_lower).to_numpy()
            row["share_contains_0"], row["share_contains_0_mcse"] = _share(contains)
            row["share_above_0"], row["share_above_0_mcse"] = _share(above)
            row["share_below_0"], row["share_below_0_mcse"] = _share(below)
            row["mean_estimate"], row["mean_estimate_mcse"] = _mean(ok["mean"])
            row["mean_ci_width"], row["mean_ci_width_mcse"] = _mean(width)
            row["max_r_hat"] = float(ok.max_r_hat.max())
            row["mean_seconds"] = float(ok.seconds.mean())
        out.append(row)
    return pd.DataFrame(out)


def _print_table(table):
    print(f"\n{COEF}, 89% interval, over replications (Monte Carlo SE in brackets)")
    print("negative control: share containing 0 should be >= 0.85; positive: share above 0 = power")
    for _, r in table.iterrows():
        if not r.n_replications:
            print(f"{r.scenario:8s} {r.variant:18s} no successful runs ({r.n_failed} failed)")
            continue
        print(
            f"{r.scenario:8s} {r.variant:18s} {r.summary:15s} {r.chance_kind:19s} "
            f"R={r.n_replications:3d}  "
            f"contains 0 {r.share_contains_0:.2f} ({r.share_contains_0_mcse:.2f})  "
            f"above 0 {r.share_above_0:.2f} ({r.share_above_0_mcse:.2f})  "
            f"below 0 {r.share_below_0:.2f} ({r.share_below_0_mcse:.2f})  "
            f"mean {r.mean_estimate:+.3f} ({r.mean_estimate_mcse:.3f})  "
            f"width {r.mean_ci_width:.3f} ({r.mean_ci_width_mcse:.3f})  "
            f"max R-hat {r.max_r_hat:.3f}" + (f"  [{r.n_failed} failed]" if r.n_failed else "")
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("n_replications", nargs="?", type=int, default=40)
    parser.add_argument("--quick", action="store_true", help="a small study (a test of the script)")
    parser.add_argument("--workdir", help="folder for the study files (default: a temporary one)")
    parser.add_argument(
        "--duration", type=float, default=DURATION, help="seconds per session (default 900)"
    )
    parser.add_argument("--keep", action="store_true", help="keep each replication's files")
    parser.add_argument(
        "--jobs", type=int, default=1, help="replications run at once (default 1; 2 on 2 cores)"
    )
    parser.add_argument(
        "--arousal-reps",
        type=int,
        default=20,
        help="replications that also run the corrected+arousal variant (default 20)",
    )
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per mne-dyad run")
    parser.add_argument(
        "--aggregate", action="store_true", help="only rebuild the table from the raw CSV"
    )
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    shape = {**SIZES["quick" if args.quick else "full"], "duration": args.duration}
    stem = "negative_control_run" + ("_quick" if args.quick else "")
    raw_path, table_path = RESULTS / f"{stem}_raw.csv", RESULTS / f"{stem}.csv"
    RESULTS.mkdir(exist_ok=True)
    done = set()
    if raw_path.exists():
        previous = pd.read_csv(raw_path)
        same = np.logical_and.reduce([previous[k] == v for k, v in shape.items()])
        if not same.all():
            raise SystemExit(
                f"{raw_path} holds runs of another study shape than {shape}; move it away "
                "or pass the same --duration."
            )
        done = set(zip(previous.scenario, previous.replication, previous.variant, strict=True))
        print(f"Resuming: {len(done)} runs already in {raw_path}", flush=True)
    if not args.aggregate:
        workroot = Path(args.workdir or tempfile.mkdtemp(prefix="negctl_"))
        workroot.mkdir(parents=True, exist_ok=True)
        print(f"Study {shape}; files under {workroot}", flush=True)
        tasks = [
            (scenario, rep)
            for rep in range(args.n_replications)
            for scenario in SCENARIOS
            if any((scenario, rep, v) not in done for v in _variants(rep, args.arousal_reps))
        ]
        common = (shape, workroot, args.timeout, args.keep)
        rest = (done, raw_path, args.arousal_reps)
        # each task runs mne-dyad in a subprocess, which is single-threaded for most of
        # its time: --jobs 2 on 2 cores about halves the wall time
        with concurrent.futures.ProcessPoolExecutor(args.jobs) as pool:
            futures = [
                pool.submit(_replication, scenario, rep, *common, k == 0, *rest)
                for k, (scenario, rep) in enumerate(tasks)
            ]
            for future in concurrent.futures.as_completed(futures):
                future.result()
        if not args.workdir and not args.keep:
            shutil.rmtree(workroot, ignore_errors=True)
    if not raw_path.exists():
        raise SystemExit(f"No results yet in {raw_path}.")
    raw = pd.read_csv(raw_path, keep_default_na=False, na_values=[""])
    table = aggregate(raw)
    table.round(4).to_csv(table_path, index=False)
    _print_table(table)
    print(f"written to {table_path} (per replication: {raw_path})")


if __name__ == "__main__":
    main()
