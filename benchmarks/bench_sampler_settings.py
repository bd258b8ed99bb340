"""nutpie's settings on the default alliance model: effective draws per second.

Issue 15, points 1 and 3. The paper-sized study (31 dyads, 128 sessions, 3
outcomes, ``simulate_study(seed=2019)``, the model's defaults: random slopes,
3,000 draws per chain at ``target_accept`` 0.95) is fitted in one process, its
compiled model loaded once, with each setting and seed in turn:

- ``diag``: the package's default, nutpie's mass matrix adapted from the gradients
  and the draws, 1,000 tuning steps;
- ``draw_diag``: the mass matrix adapted from the draws' variances alone (as Stan
  and PyMC adapt it), 1,000 tuning steps;
- ``diag, tune 500``: the default with half the tuning.

It prints each fit's time, divergences, leapfrog steps per draw, the smallest bulk
ESS of the betas and of the slopes' SDs (``sigma_slope``, the calibration's
binding ESS), the largest R-hat, and per setting the ratios of effective draws per
second of fit to the default's (medians over the seeds).

Run: python benchmarks/bench_sampler_settings.py [--seeds 1,2]
"""

import argparse
import statistics
import tempfile
import time
import warnings
from pathlib import Path

from _fresh import write_study

SETTINGS = (("diag", 1000), ("draw_diag", 1000), ("diag", 500))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1,2", help="sampler seeds, comma-separated")
    seeds = [int(s) for s in parser.parse_args().seeds.split(",")]
    warnings.simplefilter("ignore")
    import arviz as az
    import mne
    import nutpie
    import xarray as xr

    import mne_dyad as md

    mne.set_log_level("ERROR")
    adaptation = {"name": "diag"}
    sample = nutpie.sample

    def with_adaptation(*args, **kwargs):  # the package passes none for this model
        kwargs.setdefault("adaptation", adaptation["name"])
        return sample(*args, **kwargs)

    nutpie.sample = with_adaptation
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_study(folder)
        cube = md.synchrony.read_cube(folder / "cube.nc")  # loaded, the file closed
        alliance = xr.open_dataset(folder / "alliance.nc").load()
    md.stats.fit_alliance_model(cube, alliance, seed=0, draws=20, tune=20)  # compile/load
    rates = {setting: [] for setting in SETTINGS}
    for seed in seeds:
        for setting in SETTINGS:
            adaptation["name"], tune = setting
            t0 = time.perf_counter()
            fit = md.stats.fit_alliance_model(cube, alliance, seed=seed, tune=tune)
            seconds = time.perf_counter() - t0
            post = fit.datatree["posterior"].to_dataset()
            ess = az.ess(post[["beta", "sigma_slope"]])
            beta, slope_sd = float(ess["beta"].min()), float(ess["sigma_slope"].min())
            stats = fit.datatree["sample_stats"].to_dataset()
            rates[setting].append((beta / seconds, slope_sd / seconds))
            print(
                f"seed {seed} {setting[0]:9s} tune {tune:4d}: fit {seconds:5.1f} s, "
                f"{int(stats['diverging'].sum())} divergences, "
                f"{float(stats['n_steps'].mean()):4.1f} steps per draw, min ESS beta "
                f"{beta:5.0f}, slope SD {slope_sd:5.0f}, max R-hat "
                f"{fit.diagnostics['max_rhat']:.3f}",
                flush=True,
            )
    base = rates[SETTINGS[0]]
    for setting in SETTINGS[1:]:
        ratio_beta = statistics.median(
            r[0] / b[0] for r, b in zip(rates[setting], base, strict=True)
        )
        ratio_sd = statistics.median(r[1] / b[1] for r, b in zip(rates[setting], base, strict=True))
        print(
            f"{setting[0]}, tune {setting[1]} against the default: effective draws per "
            f"second {ratio_beta:.2f}x (betas), {ratio_sd:.2f}x (slope SDs)"
        )


if __name__ == "__main__":
    main()
