"""Which surrogates remove the arousal confound? A negative and a positive control.

Generator: :func:`mne_dyad.simulation.simulate_study` (EDA with skin conductance
responses, not the fitted model), 20 dyads x 4 sessions of 30 min, WCLC with the
package defaults (lag 10 s, window 30 s, step 15 s, ``all_lags``).

- **Negative control**: no coupling at all, and each session's SCR rate (both
  partners) varies with SD 0.5 on the log scale. A summary that measures
  coupling does not follow the rate within a dyad: the within-dyad
  correlation of the IM value with the session's log SCR rate should be 0.
- **Positive control**: coupling varies between sessions (logit SD 0.9, the
  simulator's default), with the same arousal variation. A summary that
  measures coupling follows the true coupling within a dyad.

For the raw summary and the excess / effect size over each surrogate kind the
script prints the mean correlation over replications with its Monte Carlo SE
(SD / sqrt(replications)) and writes ``benchmarks/results/chance_correction.csv``
(the table in docs/methods.rst, section methods-chance-corrected).

Run: python benchmarks/calibrate_chance_correction.py [n_replications]  (~5 min each)
"""

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import mne_dyad as md

KINDS = ("pseudo_dyads", "double_pseudo_dyads", "circular_shift")
OUT = Path(__file__).parent / "results" / "chance_correction.csv"


def _within_corr(value, other):
    """Correlation of the dyad-centred IM values with the dyad-centred ``other``."""
    value = value.sel(segment="IM")
    other = other.reindex_like(value)
    a = value - value.mean("session")
    b = other - other.mean("session")
    ok = np.isfinite(a.values) & np.isfinite(b.values)
    return float(np.corrcoef(a.values[ok], b.values[ok])[0, 1])


def _replication(seed, coupled):
    study = md.simulation.simulate_study(
        n_dyads=20,
        n_sessions=4,
        n_usable=80,
        duration=1800.0,
        coupling_mean=None if coupled else {"IM": 1e-6, "CB": 1e-6},
        sd_dyad=0.35 if coupled else 0.0,
        sd_session=0.9 if coupled else 0.0,
        scr_rate_sd=0.5,
        seed=seed,
        verbose=False,
    )
    target = study.truth["coupling"] if coupled else np.log(study.truth["scr_rate"])
    if "segment" in target.dims:
        target = target.sel(segment="IM")
    cube = md.synchrony_cube(study, verbose="error")
    rows = [{"summary": "raw all_lags", "r": _within_corr(cube.all_lags, target)}]
    for kind in KINDS:
        corrected = md.surrogates.chance_corrected(
            cube,
            study,
            kind=kind,
            n_surrogates=100,
            seed=seed,
            summaries=["all_lags"],
            verbose="error",
        )
        rows.append(
            {"summary": f"excess, {kind}", "r": _within_corr(corrected.all_lags_excess, target)}
        )
        rows.append({"summary": f"es, {kind}", "r": _within_corr(corrected.all_lags_es, target)})
    return [{**row, "seed": seed, "control": "positive" if coupled else "negative"} for row in rows]


def main(n_rep):
    warnings.simplefilter("ignore")
    rows = []
    for seed in range(n_rep):
        for coupled in (False, True):
            rows += _replication(1000 + seed, coupled)
            print(
                f"replication {seed + 1}/{n_rep} ({'positive' if coupled else 'negative'}) done",
                flush=True,
            )
    df = pd.DataFrame(rows)
    table = (
        df.groupby(["control", "summary"], sort=False)["r"]
        .agg(mean="mean", mc_se=lambda r: r.std(ddof=1) / np.sqrt(r.size), n="size")
        .round(3)
        .reset_index()
    )
    OUT.parent.mkdir(exist_ok=True)
    table.to_csv(OUT, index=False)
    print("Within-dyad correlation of the IM value with the session's log SCR rate (negative")
    print("control: should be 0) and with the true coupling (positive control: higher is better)")
    print(table.to_string(index=False))
    print(f"written to {OUT}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 8)
