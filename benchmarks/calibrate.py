"""Calibration of ``beta[within, IM, bond]`` through the real pipeline, scenario by scenario.

Not circular: the data come from the EDA generator
(:func:`mne_dyad.simulation.simulate_study`: skin conductance responses, coupling
on the logit scale), not from the fitted model. Each replication runs the
pipeline (:func:`mne_dyad.pipeline.run_pipeline`: synchrony cube, chance step
with its correction) with the package defaults, and each workflow (``WORKFLOWS``:
0.1's defaults, each of random slopes, detrending, latent centring and a spline in
session on its own, the three that answer the within beta's confounds together
(``combined``, 0.2's defaults), those three with latent centring, all of these
with dyad trends at once) fits the alliance model on that chance-corrected cube
with its own ``[model]`` settings, exactly as the pipeline's model stage would.
Each workflow states every setting that tells the workflows apart, so a row keeps
its meaning when the package's defaults change; ``--workflows default`` runs the
workflow that equals the package's defaults (:func:`default_workflow`), under its
own name.

Scenarios (``SCENARIOS``): the 2019 trial's shape (31 dyads x 6 sessions, 128
usable, 15-minute sessions; ``--quick``: 8 x 4, 24 usable, 10 minutes) with

- ``no_confound``: no confound;
- ``trend_linear`` / ``trend_saturating``: a common trend in coupling (+1 on the
  logit scale from the first to the last session) and in alliance (+1 scale
  point), linear or mostly over sessions 1-3;
- ``trend_dyad``: each dyad's own trends (SDs 1 logit and 0.5 points),
  correlated 0.8 between coupling and alliance;
- ``slopes_0.2`` / ``slopes_0.4``: dyads' bond slopes on within IM coupling vary
  with that SD (scale points per SD) around the mean;
- ``arousal``: session arousal (log SCR rate SD 0.5) that raises bond by 0.5
  points per SD;
- ``therapist``: therapist effects on coupling (logit SD 0.5) and alliance
  (SD 0.3 points);
- ``missing_ratings``: 20% of the usable sessions lack their ratings;
- ``unbalanced``: 100 usable sessions of 186, so dyads have 1 to 6;
- ``true_means``: bond follows each session's IM coupling relative to the dyad's
  true (latent) mean instead of its mean over the usable sessions
  (``within_center="latent"``; elsewhere ``"usable"``). The within-dyad
  deviations over the usable sessions are those of ``no_confound``; only the
  observed dyad means of bond differ. The between-dyad truth is 0 on the latent
  footing, so it asks which centring gets the between beta right when alliance
  does not know which sessions were recorded.

Each scenario runs twice per replication with common random numbers: with no
coupling effect (``effect = 0``: the false-positive rate is the share of 89%
intervals that exclude 0) and with the simulator's default effect (bond rises
0.3 points per SD of within-dyad IM coupling: coverage, power and width). The
effect, slope heterogeneity, missing ratings and the centring of the truth
change only the alliance
ratings, so the studies that differ only in them share their EDA (``GROUPS``;
checked for each replication), and the pipeline's synchrony, surrogate and
chance steps run once per group: 7 pipeline runs per replication instead of 22,
with one alliance model per scenario x effect x workflow.

The truth of an effect in the model's units. The model's beta is in SDs of bond
per SD of (chance-corrected) synchrony, and synchrony measures coupling with
noise, so the simulator's 0.3 is not the model's beta. The estimand is the
within-dyad regression slope of bond on the synchrony the pipeline measures,
in a study without confounds: the pooled fixed-effects slope over all
replications of the ``no_confound`` scenario with the effect on (each replication
stores its within-dyad sums), in raw units, converted to each replication's
standardisation (``x_sd / y_sd`` of that replication's model data).

Output: ``benchmarks/results/calibrate_raw.csv`` (one row per scenario x effect x
replication x workflow; resumable: done rows are skipped) and, with
``--aggregate`` or at the end, ``benchmarks/results/calibrate.csv``: per
scenario and workflow the false-positive rate, coverage, power, mean interval
width and mean bias, and, for the centring's choice, ``beta[between, IM, bond]``
when the within effect is on (its true value is 0, on the observed footing, or in
``true_means`` on the latent one: ``between_fpr``, the share of
its intervals that exclude 0, and ``between_mean``), each with its Monte Carlo SE
(``sqrt(p (1 - p) / R)`` for shares, ``SD / sqrt(R)`` for means); and
``calibrate_table.rst``, the table the methods page shows. The targets:
false-positive rate <= 13% (nominal 11%) and coverage >= 85% in every scenario.

Parallel: ``--jobs N`` runs replications in N local processes; ``--scheduler
ADDRESS`` sends them to a dask.distributed cluster instead (``tcp://host:8786``),
whose workers need mne-dyad installed.

The run is long (about 6 core-minutes per replication with four workflows on a
2-core machine; 200 replications are about 20 core-hours), so it is built to be
continued: ``benchmarks/results/calibrate_raw.csv`` in the repository holds every
row computed so far, and running the same command again adds the missing ones.

Run: python benchmarks/calibrate.py [--reps 200] [--scenarios no_confound,trend_dyad]
[--workflows default,defaults_0.1,slopes,detrend,latent,spline,combined,combined_latent,robust]
[--jobs 2 | --scheduler ADDRESS] [--quick] [--cube-dir DIR] [--aggregate]
"""

import argparse
import csv
import os
import subprocess
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import pandas as pd

RESULTS = Path(__file__).parent / "results"
TARGET = "beta[within, IM, bond]"
BETWEEN = "beta[between, IM, bond]"
EFFECT = 0.3
#: What the default workflow must reach in every scenario (nominal false-positive rate 11%).
FPR_TARGET, COVERAGE_TARGET = 0.13, 0.85
SCENARIOS = {
    "no_confound": {},
    "trend_linear": {"trend_coupling": 1.0, "trend_alliance": 1.0},
    "trend_saturating": {"trend": "saturating", "trend_coupling": 1.0, "trend_alliance": 1.0},
    "trend_dyad": {"sd_trend_coupling": 1.0, "sd_trend_alliance": 0.5, "trend_corr": 0.8},
    "slopes_0.2": {"sd_beta": 0.2},
    "slopes_0.4": {"sd_beta": 0.4},
    "arousal": {"scr_rate_sd": 0.5, "arousal_alliance": {"bond": 0.5}},
    "therapist": {"sd_therapist": 0.5, "therapist_alliance": 0.3},
    "missing_ratings": {"missing_alliance": 0.2},
    "unbalanced": {"n_usable": "unbalanced"},  # UNBALANCED[size] usable sessions
    # alliance follows each session's coupling relative to the dyad's true mean (the
    # latent footing), not to its mean over the observed sessions: the between truth is
    # 0 on the latent footing, so observed dyad means pull the between beta
    "true_means": {"within_center": "latent"},
}
#: usable sessions of the unbalanced scenario: 100 of 186 (--quick: 16 of 32)
UNBALANCED = {"full": 100, "quick": 16}
#: The model settings that tell the workflows apart, as 0.1 had them by default.
V01 = {
    "random_slopes": False,
    "detrend": False,
    "session_covariate": "linear",
    "centering": "observed",
    "draws": 1000,
}
#: ``[model]`` settings of each workflow, each stated in full (``V01`` and its changes),
#: so that a row means the same model whatever the package's defaults are. ``default``
#: on the command line is the workflow equal to the package's defaults
#: (:func:`default_workflow`); rows carry that workflow's name.
WORKFLOWS = {
    "defaults_0.1": V01,  # the defaults of 0.1 (rows up to 0.2's switch: "default")
    # random slopes with 3,000 draws (their default draws)
    "slopes": {**V01, "random_slopes": True, "draws": None},
    "detrend": {**V01, "detrend": True},
    "latent": {**V01, "centering": "latent"},
    "spline": {**V01, "session_covariate": "spline"},
    # the three that answer the confounds of the within beta, without the costly ones;
    # "auto" is a spline in these studies (6 distinct session numbers), as the rows
    # computed before it existed had it by name
    "combined": {
        "random_slopes": True,
        "detrend": True,
        "session_covariate": "auto",
        "centering": "observed",
        "draws": None,
    },
    # the same with the dyad means latent: the centring's choice
    "combined_latent": {
        "random_slopes": True,
        "detrend": True,
        "session_covariate": "auto",
        "centering": "latent",
        "draws": None,
    },
    "robust": {
        "random_slopes": True,
        "detrend": True,
        "session_covariate": "spline",
        "centering": "latent",
        "dyad_trends": True,
        "draws": None,
    },
}
#: Workflow names of earlier rows: 0.1's defaults were run as "default".
RENAMED = {"default": "defaults_0.1"}


def default_workflow():
    """The name of the workflow whose settings are the package's defaults.

    Raises if none is (the calibration table must speak about the defaults).
    """
    import inspect

    import mne_dyad as md

    signature = inspect.signature(md.stats.fit_alliance_model).parameters
    for name, settings in WORKFLOWS.items():
        if all(signature[k].default == v for k, v in settings.items()) and all(
            signature[k].default == V01_BASE[k] for k in V01_BASE if k not in settings
        ):
            return name
    raise RuntimeError("No workflow of WORKFLOWS has the package's default model settings.")


#: Settings a workflow leaves at their 0.1 value when it does not name them.
V01_BASE = {"dyad_trends": False}
SIZES = {
    "full": {"n_dyads": 31, "n_sessions": 6, "n_usable": 128, "duration": 900.0},
    "quick": {"n_dyads": 8, "n_sessions": 4, "n_usable": 24, "duration": 600.0},
}
FIELDS = [
    "scenario",
    "effect",
    "replication",
    "seed",
    "size",
    "workflow",
    "mean",
    "sd",
    "ci_lower",
    "ci_upper",
    "r_hat",
    "ess_bulk",
    "divergences",
    "max_r_hat",
    "between_mean",
    "between_lower",
    "between_upper",
    "x_sd",
    "y_sd",
    "sxy",
    "sxx",
    "n_obs",
    "seconds",
    "pipeline_seconds",
    "git_commit",
]


def _commit():
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def _within_sums(data):
    """Within-dyad sums of the IM synchrony and bond in raw units (the truth's pieces).

    Both are centred at each dyad's mean over its sessions with an IM value (the plain
    within split, whatever the workflow's own split: detrended or latent).
    """
    x = data.P.sel(segment="IM").values * float(data.x_sd.sel(segment="IM"))
    y = data.y.sel(outcome="bond").values * float(data.y_sd.sel(outcome="bond"))
    dyad = data.dyad_idx.values
    ok = np.isfinite(x)
    x_w, y_w = x.copy(), y.copy()
    for d in np.unique(dyad):  # centre both within dyad over the same sessions
        rows = (dyad == d) & ok
        x_w[rows] -= x[rows].mean()
        y_w[rows] -= y[rows].mean()
    return float(np.sum(x_w[ok] * y_w[ok])), float(np.sum(x_w[ok] ** 2))


#: Scenarios that change only the alliance ratings share their EDA with the first of
#: their group (same seed: the simulator draws the alliance's extra parts from their
#: own streams), so the synchrony cube and its surrogates are computed once per group.
GROUPS = [
    ["no_confound", "slopes_0.2", "slopes_0.4", "missing_ratings", "true_means"],
    ["trend_linear"],
    ["trend_saturating"],
    ["trend_dyad"],
    ["arousal"],
    ["therapist"],
    ["unbalanced"],
]
assert sorted(sum(GROUPS, [])) == sorted(SCENARIOS)


def _group_of(scenario):
    return next(g for g in GROUPS if scenario in g)


def _seed(scenario, rep):
    return 20260 + 1000 * list(SCENARIOS).index(_group_of(scenario)[0]) + rep


def _same_eda(a, b, scenario):
    """Raise unless two simulated studies have the same sessions and EDA inputs."""
    same = (
        a.raws.keys() == b.raws.keys()
        and np.array_equal(a.truth.coupling.values, b.truth.coupling.values)
        and np.array_equal(a.truth.scr_rate.values, b.truth.scr_rate.values)
    )
    if not same:
        raise RuntimeError(f"scenario {scenario!r} does not share its group's EDA; fix GROUPS.")


def replicate(tasks, rep, size, n_surrogates=None, cube_dir=None):
    """One EDA group of one replication: the pipeline once, every model; a list of rows.

    ``tasks`` is a list of ``(scenario, effect, workflows)`` of one group of
    ``GROUPS``. The pipeline (synchrony cube, surrogates, chance-corrected cube,
    chance model) runs once with the package defaults; each scenario x effect x
    workflow fits the alliance model on that cube with its own alliance table and
    ``[model]`` settings, exactly as the pipeline's model stage does. With
    ``cube_dir``, the chance-corrected cube is kept there and read back by a later
    run (another workflow of the same replication needs no new pipeline run).
    """
    import mne

    import mne_dyad as md
    from mne_dyad.pipeline import PipelineConfig

    warnings.simplefilter("ignore")
    mne.set_log_level("ERROR")
    seed = _seed(tasks[0][0], rep)
    sampling = {"draws": 300, "tune": 300} if size == "quick" else {}
    base = {"seed": seed, "variance": {"enabled": False}, "model": {"enabled": False}}
    if n_surrogates:
        base["chance"] = {"n_surrogates": n_surrogates}
    studies = {}
    for scenario, effect, _ in tasks:
        # the footing of the truth stated, so a row keeps its meaning whatever the
        # simulator's default (true_means states its own)
        sim = {**SIZES[size], "within_center": "usable", **SCENARIOS[scenario]}
        if sim["n_usable"] == "unbalanced":
            sim["n_usable"] = UNBALANCED[size]
        studies[scenario, effect] = md.simulation.simulate_study(
            **sim,
            betas={"bond": effect, "task": 0.0, "goal": 0.0},
            seed=seed,
            verbose=False,
        )
    first = next(iter(studies.values()))
    for (scenario, _), study in studies.items():
        _same_eda(first, study, scenario)
    t0 = time.perf_counter()
    name = f"{size}_{_group_of(tasks[0][0])[0]}_{rep}_{n_surrogates or 'default'}.nc"
    cached = Path(cube_dir) / name if cube_dir else None
    if cached is not None and cached.exists():
        cube = md.synchrony.read_cube(cached, verbose="error")
    else:
        cube = md.pipeline.run_pipeline(first, base, verbose="error").cube
        if cached is not None:
            md.synchrony.write_cube(cube, cached, overwrite=True, verbose="error")
    pipeline_seconds = time.perf_counter() - t0
    commit = _commit()
    rows = []
    for scenario, effect, workflows in tasks:
        study = studies[scenario, effect]
        for name in workflows:
            settings = {**WORKFLOWS[name], **sampling}  # --quick: short chains for all
            config = PipelineConfig({**base, "model": settings})
            options = {k: v for k, v in config.model.items() if k != "enabled"}
            t1 = time.perf_counter()
            fit = md.stats.fit_alliance_model(cube, study.alliance, **options, verbose="error")
            seconds = time.perf_counter() - t1
            summary = fit.summary()
            row, between = summary.loc[TARGET], summary.loc[BETWEEN]
            sxy, sxx = _within_sums(fit.data)
            rows.append(
                {
                    "scenario": scenario,
                    "effect": effect,
                    "replication": rep,
                    "seed": seed,
                    "size": size,
                    "workflow": name,
                    "mean": row["mean"],
                    "sd": row["sd"],
                    "ci_lower": row.ci_lower,
                    "ci_upper": row.ci_upper,
                    "r_hat": row.r_hat,
                    "ess_bulk": row.ess_bulk,
                    "divergences": fit.diagnostics["divergences"],
                    "max_r_hat": fit.diagnostics["max_rhat"],
                    "between_mean": between["mean"],
                    "between_lower": between.ci_lower,
                    "between_upper": between.ci_upper,
                    "x_sd": float(fit.data.x_sd.sel(segment="IM")),
                    "y_sd": float(fit.data.y_sd.sel(outcome="bond")),
                    "sxy": sxy,
                    "sxx": sxx,
                    "n_obs": fit.data.sizes["obs"],
                    "seconds": round(seconds, 1),
                    "pipeline_seconds": round(pipeline_seconds, 1),
                    "git_commit": commit,
                }
            )
    return rows


def _done(raw):
    if not raw.exists():
        return set()
    df = pd.read_csv(raw)
    workflow = df.workflow.replace(RENAMED)
    return set(zip(df.scenario, df.effect, df.replication, workflow, df["size"], strict=True))


def _append(raw, rows):
    new = not raw.exists()
    with open(raw, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        if new:
            writer.writeheader()
        writer.writerows(rows)


def aggregate(raw, out):
    """The calibration table: per scenario and workflow, with Monte Carlo SEs."""
    df = pd.read_csv(raw)
    df["workflow"] = df.workflow.replace(RENAMED)
    tables = []
    for size, part in df.groupby("size", sort=False):
        # one estimand: the plain within split's sums of one workflow's rows (rows
        # before 0.2 hold their own workflow's split, so 0.1's defaults where present)
        names = set(part.workflow)
        ref_workflow = "defaults_0.1" if "defaults_0.1" in names else sorted(names)[0]
        ref = part[
            (part.scenario == "no_confound") & (part.effect > 0) & (part.workflow == ref_workflow)
        ]
        # the estimand: pooled within-dyad slope of bond on measured synchrony, raw units
        slope = ref.sxy.sum() / ref.sxx.sum() if len(ref) else np.nan
        part = part.assign(
            truth=np.where(part.effect > 0, slope * part.x_sd / part.y_sd, 0.0),
            width=part.ci_upper - part.ci_lower,
        )
        part["covers"] = (part.ci_lower <= part.truth) & (part.truth <= part.ci_upper)
        part["excludes_0"] = (part.ci_lower > 0) | (part.ci_upper < 0)
        part["above_0"] = part.ci_lower > 0
        part["bias"] = part["mean"] - part.truth
        # the true between-dyad effect is 0: on the observed footing (within_center
        # "usable"), in true_means on the latent one
        part["between_excludes_0"] = (part.between_lower > 0) | (part.between_upper < 0)
        rows = []
        for (scenario, workflow), g in part.groupby(["scenario", "workflow"], sort=False):
            null, eff = g[g.effect == 0], g[g.effect > 0]
            row = {"size": size, "scenario": scenario, "workflow": workflow}
            for label, sub, col in (
                ("fpr", null, "excludes_0"),
                ("coverage", eff, "covers"),
                ("power", eff, "above_0"),
                ("between_fpr", eff, "between_excludes_0"),
            ):
                p, n = sub[col].mean(), len(sub)
                row[label], row[f"{label}_mcse"] = p, np.sqrt(p * (1 - p) / n) if n else np.nan
            for label, sub, col in (
                ("width", eff, "width"),
                ("bias", eff, "bias"),
                ("between_mean", eff, "between_mean"),
            ):
                row[label] = sub[col].mean()
                row[f"{label}_mcse"] = (
                    sub[col].std() / np.sqrt(len(sub)) if len(sub) > 1 else np.nan
                )
            row["truth"] = eff.truth.mean() if len(eff) else np.nan
            row["n_null"], row["n_effect"] = len(null), len(eff)
            rows.append(row)
        tables.append(pd.DataFrame(rows))
    table = pd.concat(tables, ignore_index=True)
    table.round(4).to_csv(out, index=False)
    return table


def _pct(p, se):
    return "" if not np.isfinite(p) else f"{100 * p:.1f} ({100 * se:.1f})"


def rst_table(table, workflows=None, min_reps=10, default=None):
    """The calibration table as an RST list-table (``docs/methods.rst`` includes it).

    One row per scenario and workflow of the full size: false-positive rate,
    coverage and power in percent with their Monte Carlo SEs in parentheses, mean
    89% interval width, the share of studies with the within effect on whose
    ``beta[between, IM, bond]`` interval (truth 0) excludes 0, and the replications
    behind each (null / effect). Rates breaking a target (false-positive rate above
    13%, coverage below 85%) are bold. Full-size rows of fewer than ``min_reps``
    replications (a workflow just started) are left out; ``calibrate.csv`` has them.
    A table of ``--quick`` studies only shows every row. The workflow named
    ``default`` (the package's defaults) is marked "(default)".
    """
    if "full" in set(table["size"]):  # the docs' table: full-size studies only
        part = table[table["size"] == "full"]
        part = part[part.n_null >= min_reps]
    else:  # a --quick run's own table
        part = table
    if workflows is not None:
        part = part[part.workflow.isin(workflows)]
    order = {name: k for k, name in enumerate([*SCENARIOS, *WORKFLOWS])}
    part = part.sort_values(["scenario", "workflow"], key=lambda c: c.map(order))
    lines = [
        ".. list-table::",
        "   :header-rows: 1",
        "",
        "   * - Scenario",
        "     - Workflow",
        "     - False positives, % (MCSE)",
        "     - Coverage, % (MCSE)",
        "     - Power, % (MCSE)",
        "     - Mean width (89%)",
        "     - Between beta excludes 0, % (MCSE)",
        "     - Replications",
    ]
    for row in part.itertuples():
        fpr, cov = _pct(row.fpr, row.fpr_mcse), _pct(row.coverage, row.coverage_mcse)
        if fpr and row.fpr > FPR_TARGET:
            fpr = f"**{fpr}**"
        if cov and row.coverage < COVERAGE_TARGET:
            cov = f"**{cov}**"
        cells = [row.scenario, row.workflow, fpr, cov, _pct(row.power, row.power_mcse)]
        cells += [
            f"{row.width:.2f}",
            _pct(row.between_fpr, row.between_fpr_mcse),
            f"{row.n_null} / {row.n_effect}",
        ]
        lines.append(f"   * - ``{cells[0]}``")
        lines.append(f"     - ``{cells[1]}``" + (" (default)" if cells[1] == default else ""))
        lines += [f"     - {c}" if c else "     -" for c in cells[2:]]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--workflows", default=",".join(WORKFLOWS))
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--scheduler", help="dask.distributed scheduler address")
    parser.add_argument("--quick", action="store_true", help="small studies (a test of the script)")
    parser.add_argument(
        "--n-surrogates", type=int, help="[chance] n_surrogates (default: the package's)"
    )
    parser.add_argument("--out", default=str(RESULTS), help="folder of the CSV files")
    parser.add_argument(
        "--cube-dir",
        help="keep each replication's chance-corrected cubes here (netCDF), so a later run "
        "of other workflows skips the pipeline; with --scheduler, a folder all workers see",
    )
    parser.add_argument("--aggregate", action="store_true", help="only rebuild the table")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.cube_dir:
        Path(args.cube_dir).mkdir(parents=True, exist_ok=True)
    raw, table_path = out / "calibrate_raw.csv", out / "calibrate.csv"
    size = "quick" if args.quick else "full"
    scenarios = args.scenarios.split(",")
    # "default": the workflow equal to the package's defaults, under its own name
    workflows = [default_workflow() if w == "default" else w for w in args.workflows.split(",")]
    for name, known in ((scenarios, SCENARIOS), (workflows, WORKFLOWS)):
        unknown = sorted(set(name) - set(known))
        if unknown:
            parser.error(f"unknown {unknown}; choose from {list(known)}")
    if not args.aggregate:
        done = _done(raw)
        tasks = []  # (the group's [(scenario, effect, workflows it still lacks)], replication)
        for r in range(args.reps):
            for group in GROUPS:
                todo = [
                    (s, e, [w for w in workflows if (s, e, r, w, size) not in done])
                    for s in group
                    if s in scenarios
                    for e in (0.0, EFFECT)
                ]
                todo = [t for t in todo if t[2]]
                if todo:
                    tasks.append((todo, r))
        n_fits = sum(len(t[2]) for group, _ in tasks for t in group)
        print(f"{len(tasks)} studies to run ({size}), {n_fits} model fits", flush=True)
        if args.scheduler:
            from dask.distributed import Client
            from dask.distributed import as_completed as dask_completed

            client = Client(args.scheduler)
            futures = [
                client.submit(replicate, *t, size, args.n_surrogates, args.cube_dir, pure=False)
                for t in tasks
            ]
            finished = (f.result() for f in dask_completed(futures))
        else:
            os.environ.setdefault("OMP_NUM_THREADS", "1")
            pool = ProcessPoolExecutor(max_workers=max(args.jobs, 1))
            futures = [
                pool.submit(replicate, *t, size, args.n_surrogates, args.cube_dir) for t in tasks
            ]
            finished = (f.result() for f in as_completed(futures))
        for k, rows in enumerate(finished, 1):
            _append(raw, rows)
            print(
                f"[{k}/{len(tasks)}] rep {rows[0]['replication']} "
                f"(pipeline {rows[0]['pipeline_seconds']:.0f} s): "
                + "; ".join(
                    f"{r['scenario']} {r['effect']} {r['workflow']} {r['mean']:+.3f} "
                    f"[{r['ci_lower']:+.3f}, {r['ci_upper']:+.3f}]"
                    for r in rows
                ),
                flush=True,
            )
    table = aggregate(raw, table_path)
    (out / "calibrate_table.rst").write_text(rst_table(table, default=default_workflow()))
    print(table.round(3).to_string(index=False))
    print(f"written to {table_path} and {out / 'calibrate_table.rst'}")


if __name__ == "__main__":
    main()
