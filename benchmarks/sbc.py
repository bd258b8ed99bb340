"""Simulation-based calibration (SBC) of the alliance model's code.

Talts, Betancourt, Simpson, Vehtari & Gelman (2018): draw parameters from the
prior, simulate outcomes from the model with them, fit the model to each simulated
data set, and record the rank of the true value among the posterior draws. If the
code (priors, likelihood, parametrisation, sampler) is right, each parameter's
rank is uniform on 0..L. This checks the implementation against itself; it says
nothing about whether the model suits EDA data, which benchmarks/calibrate.py
checks through the real pipeline.

The design (synchrony values, dyads, sessions) is one simulated study, fixed over
replications; only the parameters and the outcomes are drawn anew, so the compiled
model is reused and each replication costs one sampling run.

Usage::

    python benchmarks/sbc.py                      # 200 replications, default model
    python benchmarks/sbc.py --n-sims 40 --quick  # small: a smoke test
    python benchmarks/sbc.py --multivariate false --random-slopes true

Writes ``sbc_ranks.csv`` (one row per replication and parameter) and ``sbc.csv``
(per parameter: the number of replications, chi-square p-value of uniform ranks
over ``--bins`` bins, and the mean and SD of the normalised rank, 0.5 and
0.289 when uniform) into ``--out`` (default benchmarks/results).
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import chisquare

import mne_dyad as md
from mne_dyad.stats._alliance_graph import _build_alliance_model, _check_priors, _sample_alliance
from mne_dyad.stats._models import _prepare_alliance_data

#: The scalars whose ranks are checked, by the model variable and the element taken.
TARGETS = {
    "beta[within, IM, bond]": ("beta", {"level": "within", "segment": "IM", "outcome": "bond"}),
    "beta[between, IM, bond]": ("beta", {"level": "between", "segment": "IM", "outcome": "bond"}),
    "beta[within, CB, task]": ("beta", {"level": "within", "segment": "CB", "outcome": "task"}),
    "alpha[bond]": ("alpha", {"outcome": "bond"}),
    "gamma[bond]": ("gamma", {"outcome": "bond"}),
}


def _design(seed, n_dyads, n_sessions):
    cube, alliance = md.simulation.simulate_model_data(
        n_dyads=n_dyads, n_sessions=n_sessions, seed=seed
    )
    return _prepare_alliance_data(cube, alliance, standardize=True)


def _value(ds, name, sel):
    return float(ds[name].sel(**sel).values) if name in ds else np.nan


def run(args):
    import pymc as pm

    data = _design(args.seed, args.n_dyads, args.n_sessions)
    options = {
        "multivariate": args.multivariate,
        "random_slopes": args.random_slopes,
        "session_covariate": "linear",
        "dyad_trends": False,
        "likelihood": args.likelihood,
        "priors": _check_priors(None),
    }
    model = _build_alliance_model(data, **options)
    prior = pm.sample_prior_predictive(draws=args.n_sims, model=model, random_seed=args.seed)
    truth = prior["prior"].to_dataset().isel(chain=0)
    outcomes = prior["prior_predictive"]["y"].isel(chain=0)
    targets = {k: v for k, v in TARGETS.items() if v[0] in truth}
    rows = []
    start = time.time()
    for i in range(args.n_sims):
        sim = data.assign(y=(("obs", "outcome"), outcomes.isel(draw=i).values))
        tree = _sample_alliance(
            sim,
            options,
            draws=args.draws,
            tune=args.tune,
            chains=args.chains,
            sampler="nutpie",
            seed=args.seed + 1 + i,
        )
        post = tree["posterior"].to_dataset()
        # thin to L draws so that the ranks are (close to) independent draws
        flat = post.stack(sample=("chain", "draw"))
        keep = np.linspace(0, flat.sizes["sample"] - 1, args.ranks).round().astype(int)
        flat = flat.isel(sample=keep)
        n_div = (
            int(tree["sample_stats"]["diverging"].sum())
            if "diverging" in tree["sample_stats"]
            else 0
        )
        for label, (name, sel) in targets.items():
            true = _value(truth.isel(draw=i), name, sel)
            draws = flat[name].sel(**sel).values
            rows.append(
                {
                    "replication": i,
                    "parameter": label,
                    "truth": true,
                    "rank": int((draws < true).sum()),
                    "n_draws": int(draws.size),
                    "divergences": n_div,
                }
            )
        print(
            f"replication {i + 1}/{args.n_sims}: {time.time() - start:.0f} s",
            file=sys.stderr,
            flush=True,
        )
    return pd.DataFrame(rows)


def tabulate(ranks, bins):
    out = []
    for name, rows in ranks.groupby("parameter", sort=False):
        n_draws = rows.n_draws.iloc[0]
        counts = np.histogram(rows["rank"], bins=bins, range=(-0.5, n_draws + 0.5))[0]
        u = (rows["rank"] + 0.5) / (n_draws + 1)
        out.append(
            {
                "parameter": name,
                "n_sims": len(rows),
                "chi2_p": float(chisquare(counts).pvalue),
                "mean_rank": float(u.mean()),
                "sd_rank": float(u.std(ddof=1)),
                "mc_se_mean_rank": float(np.sqrt(1 / 12 / len(rows))),
                "replications_with_divergences": int(
                    (rows.groupby("replication").divergences.first() > 0).sum()
                ),
            }
        )
    return pd.DataFrame(out)


def _bool(text):
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-sims", type=int, default=200)
    parser.add_argument("--n-dyads", type=int, default=20)
    parser.add_argument("--n-sessions", type=int, default=5)
    parser.add_argument("--multivariate", type=_bool, default=True)
    parser.add_argument("--random-slopes", type=_bool, default=False)
    parser.add_argument("--likelihood", choices=("normal", "student_t"), default="normal")
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--tune", type=int, default=500)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--ranks", type=int, default=99, help="posterior draws kept (L)")
    parser.add_argument("--bins", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="draws/tune 200, L 49, 5 bins")
    parser.add_argument("--seed", type=int, default=2018)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    if args.quick:
        args.draws, args.tune, args.ranks, args.bins = 200, 200, 49, 5
    import mne

    mne.set_log_level("ERROR")
    ranks = run(args)
    table = tabulate(ranks, args.bins)
    args.out.mkdir(parents=True, exist_ok=True)
    ranks.to_csv(args.out / "sbc_ranks.csv", index=False)
    table.to_csv(args.out / "sbc.csv", index=False)
    print(table.round(3).to_string(index=False))
    return table


if __name__ == "__main__":
    main()
