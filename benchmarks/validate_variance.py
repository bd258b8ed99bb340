"""Does the variance decomposition find the level where coupling varies? Not circular.

Generator: :func:`mne_dyad.simulation.simulate_study` (EDA with skin conductance
responses and coupling on the logit scale, not the fitted model), 31 dyads x 6
sessions with 128 usable, 20-minute sessions (the IM and CB segments are shorter
than in the 2019 trial, so the sampling error is, if anything, larger), WCLC with
the package defaults, then :func:`mne_dyad.stats.variance_decomposition` with its
defaults (``measurement_error=True``, ``se_model="pooled"``) on ``all_lags``, and
again with ``se_model="cell"`` (each cell's own SE taken as known) for comparison.

- ``sd_session=0``: all coupling variance lies between dyads (logit SD 0.9). The
  corrected session share's 89% interval should reach below 0.2 in at least 80%
  of replications; the observed (uncorrected) share's should not.
- ``sd_dyad=0``: all coupling variance lies between sessions. The corrected dyad
  share's interval should reach below 0.2.

For each scenario and segment type the script prints the share of replications
whose interval reaches below 0.2, with its Monte Carlo SE sqrt(p (1 - p) / R),
the mean of the posterior means and the mean interval width (with Monte Carlo
SEs); it writes
``benchmarks/results/validate_variance.csv`` (the table in docs/methods.rst,
section methods-variance).

Run: python benchmarks/validate_variance.py [n_replications]  (default 20; a replication of
both scenarios takes about 1 min on 2 idle cores)
"""

import sys
import warnings
from pathlib import Path

import mne
import numpy as np
import pandas as pd

import mne_dyad as md

OUT = Path(__file__).parent / "results" / "validate_variance.csv"
SCENARIOS = {
    "sd_session=0": {"sd_dyad": 0.9, "sd_session": 0.0},
    "sd_dyad=0": {"sd_dyad": 0.0, "sd_session": 0.9},
}


def _replication(name, seed):
    study = md.simulation.simulate_study(
        n_dyads=31, n_sessions=6, n_usable=128, duration=1200.0, seed=seed, **SCENARIOS[name]
    )
    cube = md.synchrony_cube(study, arousal=False)
    rows = []
    for se_model in ("pooled", "cell"):
        table = md.stats.variance_table(
            md.stats.variance_decomposition(
                cube, se_model=se_model, draws=1000, tune=1000, chains=2, seed=seed
            )
        )
        components = ["icc_dyad", "session_share", "error_share"]
        if se_model == "pooled":  # the observed shares do not depend on the SEs
            components += ["session_share_observed", "icc_dyad_observed"]
        for seg in ("IM", "CB"):
            for comp in components:
                row = table.loc[(seg, comp)]
                rows.append(
                    {
                        "scenario": name,
                        "seed": seed,
                        "segment": seg,
                        "se_model": se_model if "observed" not in comp else "",
                        "component": comp,
                        "mean": row["mean"],
                        "ci_lower": row.ci_lower,
                        "ci_upper": row.ci_upper,
                    }
                )
    return rows


def main(n_rep):
    warnings.simplefilter("ignore")
    mne.set_log_level("ERROR")
    rows = []
    for name in SCENARIOS:
        for r in range(n_rep):
            rows += _replication(name, 3000 + r)
            print(f"{name}: replication {r + 1}/{n_rep} done", flush=True)
    df = pd.DataFrame(rows)
    df["reaches_below_0.2"] = df.ci_lower < 0.2
    df["width"] = df.ci_upper - df.ci_lower
    table = (
        df.groupby(["scenario", "segment", "component", "se_model"], sort=False)
        .agg(
            share_below=("reaches_below_0.2", "mean"),
            mean=("mean", "mean"),
            mean_sd=("mean", "std"),
            width=("width", "mean"),
            n=("mean", "size"),
        )
        .reset_index()
    )
    table["mc_se"] = np.sqrt(table.share_below * (1 - table.share_below) / table.n)
    table["mean_mcse"] = table.pop("mean_sd") / np.sqrt(table.n)
    OUT.parent.mkdir(exist_ok=True)
    table.round(3).to_csv(OUT, index=False)
    print("Share of replications whose 89% interval reaches below 0.2 (with MC SE):")
    print(table.round(3).to_string(index=False))
    print(f"written to {OUT}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
