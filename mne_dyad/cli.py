"""The ``mne-dyad`` command line."""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from ._version import __version__

DEMO_FILES = ("cube.nc", "posterior.nc", "summary.csv", "report.html")


def _demo(args):
    import matplotlib

    matplotlib.use("Agg")
    import mne

    from . import report as md_report
    from .simulation import simulate_study
    from .stats import fit_alliance_model
    from .synchrony import synchrony_cube, write_cube

    mne.set_log_level("INFO" if not args.quiet else "WARNING")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.quick:
        sim = dict(n_dyads=12, n_sessions=4, n_usable=40, duration=1200.0)
        sampling = dict(draws=1000, tune=1000, chains=2)
    else:
        sim = dict()  # the 2019 design: 31 dyads, 128 sessions of 50 min
        sampling = dict(draws=1000, tune=1000, chains=2)
    t0 = time.perf_counter()
    mne.utils.logger.info("[1/4] Simulating the study ...")
    study = simulate_study(seed=args.seed, **sim)
    mne.utils.logger.info(f"[2/4] Synchrony cube for {len(study.raws)} sessions ...")
    cube = synchrony_cube(study.raws, n_jobs=1)
    mne.utils.logger.info("[3/4] Bayesian alliance model ...")
    fit = fit_alliance_model(cube, study.alliance, seed=args.seed, sampler=args.sampler, **sampling)
    mne.utils.logger.info("[4/4] Writing outputs ...")
    # write everything into a scratch folder first: no half-written results
    with tempfile.TemporaryDirectory(dir=out, prefix=".mne-dyad-") as tmp:
        tmp = Path(tmp)
        write_cube(cube, tmp / "cube.nc")
        fit.to_netcdf(tmp / "posterior.nc")
        fit.summary().to_csv(tmp / "summary.csv", index_label="coefficient")
        rep = md_report.make_report(
            cube,
            raws=study.raws,
            fit=fit,
            title="mne-dyad demo: simulated 2019 imagery/alliance study",
        )
        rep.save(tmp / "report.html", open_browser=False, overwrite=True, verbose=False)
        for name in DEMO_FILES:
            os.replace(tmp / name, out / name)
    elapsed = time.perf_counter() - t0
    truth = study.params["betas"]
    print(
        f"\nmne-dyad {__version__} demo: {len(study.raws)} sessions, "
        f"{cube.sizes['dyad']} dyads, {elapsed:.0f} s"
    )
    print("Synchrony (all_lags) -> alliance, posterior mean [89% interval], SD units:")
    print(fit.effects_table().to_string())
    print(f"Simulated truth: within-dyad IM coupling effects {truth} (scale points per SD).")
    print("Wrote:")
    for name in DEMO_FILES:
        print(f"  {out / name}")
    return 0


def main(argv=None):
    """Run the ``mne-dyad`` command line."""
    parser = argparse.ArgumentParser(
        prog="mne-dyad", description="Dyadic EDA synchrony and therapeutic alliance."
    )
    parser.add_argument("--version", action="version", version=f"mne-dyad {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo", help="simulate the 2019 imagery/alliance study and run the whole analysis"
    )
    demo.add_argument("--out", default="mne_dyad_demo", help="output folder (default: %(default)s)")
    demo.add_argument("--seed", type=int, default=2019, help="random seed (default: %(default)s)")
    demo.add_argument("--quick", action="store_true", help="a smaller study and shorter sampling")
    demo.add_argument(
        "--sampler",
        choices=("nutpie", "pymc"),
        default="nutpie",
        help="NUTS implementation (default: %(default)s)",
    )
    demo.add_argument("--quiet", action="store_true", help="log warnings only")
    args = parser.parse_args(argv)
    if args.command == "demo":
        return _demo(args)
    parser.error(f"unknown command {args.command}")  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
