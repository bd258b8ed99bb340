"""The ``mne-dyad`` command line: ``demo`` and ``run``.

This module only parses arguments; the work is :func:`mne_dyad.pipeline.run_pipeline`.
"""

import argparse
import sys
from pathlib import Path

from ._version import __version__
from .pipeline import OUTPUT_FILES

__all__ = ["main"]

DEMO_FILES = OUTPUT_FILES
_USER_ERRORS = (ValueError, TypeError, KeyError, OSError)


def _setup(quiet):
    import matplotlib

    matplotlib.use("Agg")
    import mne

    mne.set_log_level("WARNING" if quiet else "INFO")


def _finish(results, out, overwrite, title):
    paths = results.save(out, overwrite=overwrite, title=title)
    print(results.describe())
    print("Wrote:")
    for path in paths:
        print(f"  {path}")
    return 0


def _demo(args):
    _setup(args.quiet)
    from .pipeline import _demo_inputs, check_output_dir, run_pipeline

    study, config = _demo_inputs(quick=args.quick, seed=args.seed, sampler=args.sampler)
    # the demo folder is the demo's own: a second demo replaces it
    check_output_dir(args.out, overwrite=True)
    results = run_pipeline(study, config)
    code = _finish(
        results,
        Path(args.out),
        True,  # the demo folder is the demo's own: a second demo replaces it
        "mne-dyad demo: simulated 2019 imagery/alliance study",
    )
    print(
        f"Simulated truth: within-dyad IM coupling effects {study.params['betas']} "
        "(scale points per SD)."
    )
    return code


def _run(args):
    _setup(args.quiet)
    from .io import read_study
    from .pipeline import PipelineConfig, check_output_dir, check_run, read_config, run_pipeline

    config = read_config(args.config) if args.config else PipelineConfig()
    study = read_study(args.manifest, options=config.study_options())
    if args.out is not None:  # refuse an earlier run's folder before computing anything
        check_output_dir(args.out, overwrite=args.overwrite)
    if args.out is None and not args.dry_run:
        raise ValueError("--out is required (the output folder), unless --dry-run is given.")
    # every file is read and checked before anything is computed; the run then uses
    # the sessions the check read
    plan, problems = check_run(study, config)
    if args.dry_run or problems:
        print(plan)
    if problems:
        print(f"mne-dyad run: {len(problems)} problem(s), nothing computed:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    if args.dry_run:
        print("No problems found: the run can go.")
        return 0
    results = run_pipeline(study, config)
    return _finish(
        results, Path(args.out), args.overwrite, f"mne-dyad analysis of {Path(args.manifest).name}"
    )


def _parser():
    parser = argparse.ArgumentParser(
        prog="mne-dyad", description="Dyadic EDA synchrony and therapeutic alliance."
    )
    parser.add_argument("--version", action="version", version=f"mne-dyad {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo", help="simulate the 2019 imagery/alliance study and run the whole analysis"
    )
    demo.add_argument(
        "--out",
        default="mne_dyad_demo",
        help="output folder; an earlier demo's files there are replaced (default: %(default)s)",
    )
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
    run.add_argument("--out", help="output folder (required unless --dry-run)")
    run.add_argument(
        "--config",
        help="TOML with [preprocessing], [synchrony], [chance], [variance], [model], "
        "[alliance], [readers.<format>], [segments] and [combine] tables and a top-level seed "
        "([chance], [variance] and [model] take enabled = false to skip a step); "
        "see mne_dyad.pipeline.PipelineConfig",
    )
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="check the manifest, every file and the config (as every run does first), "
        "print the plan, compute nothing",
    )
    run.add_argument(
        "--overwrite", action="store_true", help="replace the files of an earlier run in --out"
    )
    run.add_argument("--quiet", action="store_true", help="log warnings only")
    return parser


def main(argv=None):
    """Run the ``mne-dyad`` command line."""
    args = _parser().parse_args(argv)
    try:
        return _demo(args) if args.command == "demo" else _run(args)
    except _USER_ERRORS as exc:  # bad input: the message, not a traceback
        message = str(exc).strip("'\"") if isinstance(exc, KeyError) else str(exc)
        print(f"mne-dyad {args.command}: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
