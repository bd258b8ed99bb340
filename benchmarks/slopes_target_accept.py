"""Random-slope fits at nutpie's default target acceptance (0.8) and at 0.9 (issue 13).

The calibration's ``combined`` workflow (random slopes, detrending, a spline in
session, 3,000 draws) is fitted twice to the same studies of
``benchmarks/calibrate.py`` (same seeds, same chance-corrected cubes): once with
nutpie's default target acceptance and once with 0.9. For each fit the script
prints the divergences, the smallest bulk ESS over the betas, intercepts and slope
SDs (what ``fit.diagnostics`` checks, against the required 400), the target beta's
interval and the time; at the end, the counts and medians of both settings.

The cubes come from ``--cube-dir`` (``calibrate.py --cube-dir``) when there, else
the pipeline runs (about 30 s per study group).

Run: python benchmarks/slopes_target_accept.py [--reps 45,46,47] [--cube-dir DIR]
"""

import argparse
import importlib
import sys
import time
import warnings
from pathlib import Path

import mne
import numpy as np

import mne_dyad as md
from mne_dyad.pipeline import PipelineConfig
from mne_dyad.stats import _alliance_graph

sys.path.insert(0, str(Path(__file__).parent))
C = importlib.import_module("calibrate")  # benchmarks/calibrate.py: its scenarios and seeds

SCENARIOS = ("no_confound", "slopes_0.4", "unbalanced", "missing_ratings")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", default="45,46,47")
    parser.add_argument("--cube-dir", default=None)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    mne.set_log_level("ERROR")
    original, setting = _alliance_graph._sample, {}

    def sample(model, **kwargs):  # the experiment's only change: target_accept
        kwargs["target_accept"] = setting["target_accept"]
        return original(model, **kwargs)

    _alliance_graph._sample = sample
    results = {0.8: [], 0.9: []}
    for rep in (int(r) for r in args.reps.split(",")):
        cubes = {}
        for scenario in SCENARIOS:
            for effect in (0.0, C.EFFECT):
                seed = C._seed(scenario, rep)
                sim = {**C.SIZES["full"], **C.SCENARIOS[scenario]}
                if sim["n_usable"] == "unbalanced":
                    sim["n_usable"] = C.UNBALANCED["full"]
                study = md.simulation.simulate_study(
                    **sim, betas={"bond": effect, "task": 0.0, "goal": 0.0}, seed=seed
                )
                group = C._group_of(scenario)[0]
                if group not in cubes:
                    cached = Path(args.cube_dir or "") / f"full_{group}_{rep}_default.nc"
                    if args.cube_dir and cached.exists():
                        cubes[group] = md.synchrony.read_cube(cached, verbose="error")
                    else:
                        base = {"seed": seed, "variance": {"enabled": False}}
                        base["model"] = {"enabled": False}
                        cubes[group] = md.pipeline.run_pipeline(study, base).cube
                base = {"seed": seed, "variance": {"enabled": False}, "model": {"enabled": False}}
                config = PipelineConfig({**base, "model": C.WORKFLOWS["combined"]})
                options = {k: v for k, v in config.model.items() if k != "enabled"}
                line = []
                for target_accept in (0.8, 0.9):
                    setting["target_accept"] = target_accept
                    t0 = time.perf_counter()
                    fit = md.stats.fit_alliance_model(cubes[group], study.alliance, **options)
                    seconds = time.perf_counter() - t0
                    row = fit.summary().loc[C.TARGET]
                    d = fit.diagnostics
                    results[target_accept].append((d["divergences"], d["min_ess_bulk"], seconds))
                    line.append(
                        f"{target_accept}: {d['divergences']} div, min ESS "
                        f"{d['min_ess_bulk']:5.0f}, [{row.ci_lower:+.3f}, {row.ci_upper:+.3f}], "
                        f"{seconds:4.1f} s"
                    )
                print(f"rep {rep} {scenario} {effect}: " + " | ".join(line), flush=True)
    for target_accept, rows in results.items():
        a = np.array(rows)
        print(
            f"target_accept {target_accept}: {len(a)} fits, {int((a[:, 0] > 0).sum())} with "
            f"divergences, min ESS median {np.median(a[:, 1]):.0f} (smallest {a[:, 1].min():.0f},"
            f" {int((a[:, 1] < 400).sum())} below 400), median time {np.median(a[:, 2]):.1f} s"
        )


if __name__ == "__main__":
    main()
