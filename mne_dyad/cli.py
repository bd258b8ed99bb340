"""The ``mne-dyad`` command line: ``demo`` and ``run``."""

import argparse
import os
import sys
import tempfile
import time
import tomllib
from pathlib import Path

from ._version import __version__

OUTPUT_FILES = ("cube.nc", "posterior.nc", "summary.csv", "report.html")
DEMO_FILES = OUTPUT_FILES


def _write_outputs(out, cube, fit, raws, title, surrogates=None, variance=None):
    """Write cube, posterior, summary and report into ``out``, all or nothing."""
    from . import report as md_report
    from .synchrony import write_cube

    out.mkdir(parents=True, exist_ok=True)
    names = ["cube.nc", "report.html"] + (["posterior.nc", "summary.csv"] if fit else [])
    with tempfile.TemporaryDirectory(dir=out, prefix=".mne-dyad-") as tmp:
        tmp = Path(tmp)
        write_cube(cube, tmp / "cube.nc")
        if fit is not None:
            fit.to_netcdf(tmp / "posterior.nc")
            fit.summary().to_csv(tmp / "summary.csv", index_label="coefficient")
        rep = md_report.make_report(
            cube, raws=raws, fit=fit, surrogates=surrogates, variance=variance, title=title
        )
        rep.save(tmp / "report.html", open_browser=False, overwrite=True, verbose=False)
        for name in names:  # moved only once every file exists
            os.replace(tmp / name, out / name)
    return [out / name for name in OUTPUT_FILES if name in names]


def _print_result(fit, paths, header, truth=None):
    print(f"\n{header}")
    if fit is not None:
        summary = fit.params.get("summary")
        print(f"Synchrony ({summary}) -> alliance, posterior mean [89% interval], SD units:")
        print(fit.effects_table().to_string())
    if truth is not None:
        print(f"Simulated truth: within-dyad IM coupling effects {truth} (scale points per SD).")
    print("Wrote:")
    for path in paths:
        print(f"  {path}")


def _setup(args):
    import matplotlib

    matplotlib.use("Agg")
    import mne

    mne.set_log_level("INFO" if not args.quiet else "WARNING")
    return mne


def _demo(args):
    mne = _setup(args)
    from .simulation import simulate_study
    from .stats import fit_alliance_model, variance_decomposition
    from .surrogates import test_above_chance
    from .synchrony import synchrony_cube

    if args.quick:
        sim = dict(n_dyads=12, n_sessions=4, n_usable=40, duration=1200.0)
    else:
        sim = dict()  # the 2019 design: 31 dyads, 128 sessions of 50 min
    sampling = dict(draws=1000, tune=1000, chains=2)
    t0 = time.perf_counter()
    mne.utils.logger.info("[1/6] Simulating the study ...")
    study = simulate_study(seed=args.seed, **sim)
    mne.utils.logger.info(f"[2/6] Synchrony cube for {len(study.raws)} sessions ...")
    cube = synchrony_cube(study.raws, n_jobs=1)
    mne.utils.logger.info("[3/6] Synchrony against pseudo-dyad surrogates ...")
    chance = test_above_chance(
        study.raws,
        n_surrogates=50 if args.quick else 200,
        seed=args.seed,
        sampler=args.sampler,
        **sampling,
    )
    mne.utils.logger.info("[4/6] Dyad and session shares of synchrony ...")
    variance = variance_decomposition(cube, seed=args.seed, sampler=args.sampler, **sampling)
    mne.utils.logger.info("[5/6] Bayesian alliance model ...")
    fit = fit_alliance_model(cube, study.alliance, seed=args.seed, sampler=args.sampler, **sampling)
    mne.utils.logger.info("[6/6] Writing outputs ...")
    paths = _write_outputs(
        Path(args.out),
        cube,
        fit,
        study.raws,
        "mne-dyad demo: simulated 2019 imagery/alliance study",
        surrogates=chance,
        variance=variance,
    )
    _print_result(
        fit,
        paths,
        f"mne-dyad {__version__} demo: {len(study.raws)} sessions, {cube.sizes['dyad']} "
        f"dyads, {time.perf_counter() - t0:.0f} s",
        truth=study.params["betas"],
    )
    return 0


def _load_config(path):
    if path is None:
        return {}
    path = Path(path)
    if not path.is_file():
        raise SystemExit(f"mne-dyad run: no config file at {path}")
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise SystemExit(f"mne-dyad run: {path} is not valid TOML ({exc})") from None


def _run(args):
    mne = _setup(args)
    from .alliance import read_sai
    from .io import read_study
    from .stats import fit_alliance_model, variance_decomposition
    from .surrogates import test_above_chance
    from .synchrony import METHODS, synchrony_cube

    config = _load_config(args.config)
    sync = dict(config.get("synchrony", {}))
    model = dict(config.get("model", {}))
    chance_opts = dict(config.get("chance", {}))
    variance_opts = dict(config.get("variance", {}))
    do_chance = chance_opts.pop("enabled", True)
    do_variance = variance_opts.pop("enabled", True)
    method = sync.get("method", "wclc")
    if method not in METHODS:
        print(f"mne-dyad run: [synchrony] method must be one of {list(METHODS)}", file=sys.stderr)
        return 2
    # every step reads the method's main summary unless the config names another
    model.setdefault("summary", METHODS[method].main_summary)
    variance_opts.setdefault("variable", model["summary"])
    chance_opts.setdefault("summary", model["summary"])
    t0 = time.perf_counter()
    try:
        study = read_study(
            args.manifest,
            options={k: config.get(k, {}) for k in ("readers", "segments", "combine")},
        )
        mne.utils.logger.info(f"[1/5] Synchrony cube for {len(study.raws)} sessions ...")
        cube = synchrony_cube(study, **sync)
        n_dyads = int(cube.sizes["dyad"])
        chance = variance = fit = None
        if do_chance:
            mne.utils.logger.info("[2/5] Synchrony against surrogates ...")
            kind = chance_opts.get("kind", "pseudo_dyads")
            if kind == "pseudo_dyads" and n_dyads < 2:
                mne.utils.warn(
                    f"No chance test: pseudo-dyads need at least 2 dyads and "
                    f"{args.manifest} has {n_dyads}. Set [chance] kind = "
                    '"circular_shift" in the config to test against shifted partners.'
                )
            else:
                sync_params = {k: v for k, v in sync.items() if k != "chunks"}
                chance = test_above_chance(study, **{**sync_params, **chance_opts})
        if do_variance:
            mne.utils.logger.info("[3/5] Dyad and session shares of synchrony ...")
            if n_dyads < 2:
                mne.utils.warn(
                    f"No variance decomposition: {args.manifest} has {n_dyads} dyad; "
                    "dyad and session shares need at least 2."
                )
            else:
                variance = variance_decomposition(cube, **variance_opts)
        if study.alliance_file is not None:
            mne.utils.logger.info("[4/5] Alliance scores and Bayesian model ...")
            alliance = read_sai(study.alliance_file, **config.get("alliance", {}))
            fit = fit_alliance_model(cube, alliance, **model)
        else:
            mne.utils.logger.info("[4/5] No alliance_file in the manifest: no model.")
        mne.utils.logger.info("[5/5] Writing outputs ...")
        paths = _write_outputs(
            Path(args.out),
            cube,
            fit,
            study.raws,
            f"mne-dyad analysis of {Path(args.manifest).name}",
            surrogates=chance,
            variance=variance,
        )
    except (ValueError, FileNotFoundError, TypeError, KeyError) as exc:
        print(f"mne-dyad run: {exc}", file=sys.stderr)
        return 2
    _print_result(
        fit,
        paths,
        f"mne-dyad {__version__} run: {len(study.raws)} sessions, "
        f"{cube.sizes['dyad']} dyads, {time.perf_counter() - t0:.0f} s",
    )
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
    demo.add_argument("--quick", action="store_true", help="a smaller study")
    demo.add_argument(
        "--sampler",
        choices=("nutpie", "pymc"),
        default="nutpie",
        help="NUTS implementation (default: %(default)s)",
    )
    demo.add_argument("--quiet", action="store_true", help="log warnings only")
    run = sub.add_parser("run", help="analyse the sessions listed in a manifest")
    run.add_argument("manifest", help="CSV/TSV or TOML manifest of the study's files")
    run.add_argument("--out", required=True, help="output folder")
    run.add_argument(
        "--config",
        help="TOML with [synchrony], [chance], [variance], [model], [alliance], "
        "[readers], [segments] and [combine] options ([chance] and [variance] take "
        "enabled = false to skip those steps)",
    )
    run.add_argument("--quiet", action="store_true", help="log warnings only")
    args = parser.parse_args(argv)
    return _demo(args) if args.command == "demo" else _run(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
