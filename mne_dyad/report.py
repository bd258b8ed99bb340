"""HTML reports of a dyadic analysis (``mne.Report``)."""

import html
import json
from collections.abc import Mapping

import mne
import numpy as np
import pandas as pd
import xarray as xr
from mne.utils import _validate_type, logger, verbose, warn

from .stats._results import AllianceFit
from .stats._sampling import _MAX_RHAT, _sampler_problems
from .stats._variance import variance_table
from .synchrony._reliability import _is_summary, _pooled_reliability
from .utils._docs import fill_doc
from .utils._toml import _dumps as _toml_dumps
from .viz import plot_alliance_effects, plot_cube, plot_dyad, plot_surrogates, plot_variance

__all__ = ["make_report", "SECTIONS"]

#: The report's sections, in order. ``Data`` and ``Synchrony`` are always there;
#: the others appear when their input is given.
SECTIONS = ("Run", "Data", "Traces", "Synchrony", "Chance", "Variance", "Alliance")

#: Fewer dyads than this make between-dyad effects and shares unreliable (banner).
_MIN_DYADS = 10


def _add_figure(report, fig, title, section, caption=None):
    """Add one figure, or several as a slider, to a section (tagged by it) and free them."""
    import matplotlib.pyplot as plt

    report.add_figure(fig, title=title, caption=caption, section=section, tags=(section.lower(),))
    for f in fig if isinstance(fig, list) else [fig]:
        plt.close(f)


def _add_html(report, content, title, section):
    report.add_html(content, title=title, section=section, tags=(section.lower(),))


def _split_input(study_or_cube, raws, params):
    """Return ``(cube, raws)`` from a cube, a study or a mapping of sessions."""
    from .io._session import _as_mapping
    from .synchrony import synchrony_cube

    if isinstance(study_or_cube, xr.Dataset):
        if params:
            raise TypeError(
                "make_report got synchrony parameters "
                f"({', '.join(sorted(params))}) together with a ready cube; pass them to "
                "synchrony_cube instead, or pass the study to make_report."
            )
        return study_or_cube, raws
    sessions = _as_mapping(study_or_cube)
    if not isinstance(sessions, Mapping):
        raise TypeError(
            "make_report needs a synchrony cube (xarray.Dataset), a study with a .raws "
            "mapping (read_study, simulate_study) or a {(dyad, session): raw} mapping, "
            f"got {type(study_or_cube).__name__}."
        )
    warn(
        "make_report(study) computes the synchrony cube itself, a second copy of the "
        "pipeline's first step; pass the cube and raws=study instead, or use "
        "mne_dyad.pipeline.run_pipeline(study, config).report(). Passing a study will "
        "be removed in 0.3.",
        FutureWarning,
    )
    logger.info(f"Computing the synchrony cube of {len(sessions)} sessions for the report ...")
    cube = synchrony_cube(study_or_cube, **params)
    return cube, sessions if raws is None else raws


def _main_variable(cube, fit=None):
    """Pick the cube variable to show: the model's summary, else the method's main one."""
    preferred = [fit.params.get("summary")] if fit is not None else []
    candidates = (
        preferred
        + ["all_lags"]
        + [
            name
            for name, da in cube.data_vars.items()
            if da.dims == ("dyad", "session", "segment") and _is_summary(name)
        ]
    )
    for name in candidates:
        if name in cube.data_vars:
            return name
    raise ValueError(
        "The cube has no dyad x session x segment variable to report; it has "
        f"{sorted(cube.data_vars)}."
    )


def _overview(cube, main):
    """Tables of the study's shape and of each session's segments, from the cube."""
    dur = cube["segment_duration"] if "segment_duration" in cube else None
    has = np.isfinite(cube[main]) if dur is None else np.isfinite(dur) & (dur > 0)
    study = pd.DataFrame(
        {
            "dyads with data": has.any("session").sum("dyad").to_series(),
            "sessions with data": has.sum(("dyad", "session")).to_series(),
            "synchrony values": np.isfinite(cube[main]).sum(("dyad", "session")).to_series(),
        }
    )
    if dur is not None:
        study["total minutes"] = (dur.sum(("dyad", "session")) / 60).to_series().round(1)
        study["median minutes per session"] = (
            (dur.where(has).median(("dyad", "session")) / 60).to_series().round(1)
        )
    # one row per dyad, one column per segment and session: compact for 30+ dyads
    values = (dur / 60).round(1) if dur is not None else cube[main].round(3)
    sessions = values.where(has).to_series().unstack(["segment", "session"])
    sessions = sessions.dropna(how="all").dropna(axis=1, how="all")
    order = {seg: i for i, seg in enumerate(cube.segment.values)}
    sessions = sessions[sorted(sessions.columns, key=lambda c: (order[c[0]], c[1]))]
    sessions.columns.names = ["segment", "session"]
    return study, sessions


#: Numbers right-aligned under right-aligned headers; labels (the index) on the left.
_TABLE_STYLE = (
    "<style>.mne-dyad-table td, .mne-dyad-table th {text-align: right;} "
    ".mne-dyad-table tbody th, .mne-dyad-table thead th:first-child {text-align: left;} "
    ".mne-dyad-scroll {max-height: 28em; overflow-y: auto;}</style>"
)
#: Cells of the cube plot resting on fewer windows are crossed out.
_MIN_WINDOWS = 3
#: Columns of counts, shown as integers.
_COUNTS = ("divergences",)


def _html_table(df):
    df = df.copy()
    for col in df.columns:  # effective sample sizes and divergences are counts
        name = str(col)
        if name.startswith("ess") or name.endswith("ess_bulk") or name in _COUNTS:
            df[col] = df[col].round().astype("Int64")
    if df.index.name and df.columns.nlevels == 1 and df.index.nlevels == 1:
        # the index's name in the header's first cell: one header row, not two
        df.columns.name, df.index.name = df.index.name, None
    return _TABLE_STYLE + df.to_html(
        classes="table table-sm table-striped table-hover mne-dyad-table",
        border=0,
        na_rep="-",
        justify="right",
    )


def _run_problems(run, n_dyads):
    """List what a reader must know before trusting the results, one line each."""
    problems = []
    config = run.get("config", {})
    for step, d in (run.get("diagnostics") or {}).items():
        table = "variance" if step.startswith("variance") else step  # its TOML table
        bad = [what for what, _ in _sampler_problems(d, config.get(table, {}).get("chains", 2))]
        if bad:
            problems.append(
                f"The {step.replace('_', ' ')} sampler reports {', '.join(bad)}: its "
                f"intervals are not trustworthy (raise [{table}] tune and draws)."
            )
    if n_dyads < _MIN_DYADS:
        problems.append(
            f"Only {n_dyads} dyads: between-dyad effects, dyad shares and the chance "
            f"test's group estimate are unreliable below about {_MIN_DYADS} dyads, whatever "
            "their intervals say."
        )
    flagged = (run.get("preprocessing") or {}).get("flagged") or []
    if flagged:
        problems.append(
            f"{len(flagged)} session(s) are mostly artifact ({', '.join(flagged[:10])}): "
            "see the artifact shares below."
        )
    return problems


def _run_section(report, run, n_dyads):
    """Add the ``Run`` section: a banner, rates, artifacts, warnings, versions, config."""
    problems = _run_problems(run, n_dyads)
    if problems:
        items = "".join(f"<li>{html.escape(p)}</li>" for p in problems)
        banner = (
            '<div style="background:#f8d7da;border:2px solid #b00020;color:#58151c;'
            'padding:0.6em 1em;border-radius:4px"><b>Check before reporting these '
            f"results:</b><ul>{items}</ul></div>"
        )
    else:
        samplers = (
            f"Every sampler passed its checks (no divergences, R-hat at most {_MAX_RHAT}, "
            "enough bulk ESS)"
            if run.get("diagnostics")
            else "No sampler ran"
        )
        banner = (
            '<div style="background:#d1e7dd;border:1px solid #0f5132;color:#0f5132;'
            f'padding:0.6em 1em;border-radius:4px">{samplers}, the study has at least '
            f"{_MIN_DYADS} dyads and no session is mostly artifact.</div>"
        )
    _add_html(report, banner, "Checks", "Run")
    diagnostics = run.get("diagnostics") or {}
    if diagnostics:
        table = pd.DataFrame(diagnostics).T
        # the run's order (a saved provenance sorts its keys)
        steps = ("chance", "variance", "variance_noise_floor", "model")
        order = {step: k for k, step in enumerate(steps)}
        table = table.loc[sorted(table.index, key=lambda s: (order.get(s, len(order)), s))]
        table.index.name = "step"
        table = table.rename(
            columns={"min_ess_bulk": "min ess_bulk", "min_ess_required": "required ess_bulk"}
        )
        _add_html(report, _html_table(table.round(3)), "Sampler diagnostics", "Run")
    rates_html = _rates_html(run)
    if rates_html:
        _add_html(report, rates_html, "Sampling rates and artifacts per session", "Run")
    logged = run.get("warnings") or []
    items = "".join(f"<li>{html.escape(w)}</li>" for w in logged) or "<li>none</li>"
    _add_html(report, f"<ul>{items}</ul>", f"Warnings of the run ({len(logged)})", "Run")
    versions = run.get("versions") or {}
    if versions:
        table = pd.DataFrame({"version": versions})
        table.index.name = "package"
        _add_html(report, _html_table(table), "Software", "Run")
    if run.get("config"):
        try:
            text = _toml_dumps(run["config"])
            note = (
                "<p>Every setting of the run, defaults included. Saved as a <code>.toml"
                "</code> file and passed to <code>mne-dyad run --config</code>, it runs "
                "the analysis again with the same settings.</p>"
            )
        except TypeError:  # a value TOML cannot hold (a hand-made provenance)
            text = json.dumps(run["config"], indent=2, sort_keys=True, default=str)
            note = ""
        _add_html(report, f"{note}<pre>{html.escape(text)}</pre>", "Configuration", "Run")


def _rates_html(run):
    """Return the per-session rates and artifact shares, under a one-line summary."""
    per_session = run.get("sfreq") or {}
    shares = (run.get("preprocessing") or {}).get("artifact_share") or {}
    if not per_session and not shares:
        return ""
    rows = {}
    for key in dict.fromkeys([*per_session, *shares]):
        rates = dict(per_session.get(key) or {})
        analysis = rates.pop("analysis", None)
        # a session not combined from separate recordings was analysed as recorded
        native = rates or ({"session": analysis} if analysis is not None else {})
        row = {f"{role} native (Hz)": rate for role, rate in native.items()}
        row["analysis (Hz)"] = analysis
        if shares:
            share = shares.get(key)
            row["artifact (%)"] = None if share is None else round(100 * share, 2)
        rows[key] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "dyad/session"
    natives = sorted({v for c in table if "native" in c for v in table[c].dropna()})
    parts = [f"{len(table)} sessions"]
    if natives:
        parts.append(f"recorded at {', '.join(f'{r:g}' for r in natives)} Hz")
    analysed = sorted(set(table["analysis (Hz)"].dropna()))
    if analysed:
        parts.append(f"analysed at {', '.join(f'{r:g}' for r in analysed)} Hz")
    if shares:
        share = table["artifact (%)"].astype(float)
        worst = f" ({share.idxmax()})" if share.max() > 0 else ""
        parts.append(
            f"artifacts: {int((share > 0).sum())} sessions with any, median "
            f"{share.median():.1f}%, largest {share.max():.1f}%{worst}"
        )
    summary = f"<p>{html.escape('; '.join(parts))}.</p>"
    body = _html_table(table)
    if len(table) > 12:
        body = f'<div class="mne-dyad-scroll">{body}</div>'
    return summary + body


def _traces(sessions, n_traces):
    import matplotlib.pyplot as plt

    keys = list(sessions)
    shown = keys if n_traces is None else keys[:n_traces]
    figs, captions = [], []
    with plt.rc_context({"figure.max_open_warning": 0}):  # closed once in the report
        try:
            for key in shown:
                figs.append(plot_dyad(sessions[key], show=False))
                captions.append(f"Dyad {key[0]}, session {key[1]}")
        except Exception:
            for fig in figs:  # no figures left open by a session that fails to load
                plt.close(fig)
            raise
    return figs, captions, len(keys)


def _params_html(cube):
    raw = cube.attrs.get("mne_dyad_params", "{}")
    try:
        params = json.loads(raw)
    except (TypeError, ValueError):
        return f"<pre>{html.escape(str(raw))}</pre>"
    rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in params.items()
    )
    return f'<table class="table table-sm">{rows}</table>'


def _with_raw(cube, main):
    """Return ``[main]``, after the raw summary it corrects when it is chance-corrected."""
    for suffix in ("_excess", "_es"):
        if main.endswith(suffix) and main[: -len(suffix)] in cube:
            return [main[: -len(suffix)], main]
    return [main]


def _measurement_table(cube, main):
    """Per segment: spread of the values, their sampling error and split-half reliability."""
    values = cube[main]
    table = pd.DataFrame(
        {
            "cells": np.isfinite(values).sum(("dyad", "session")).to_series(),
            "mean": values.mean(("dyad", "session")).to_series(),
            "SD between cells": values.std(("dyad", "session"), ddof=1).to_series(),
        }
    )
    if f"{main}_se" in cube:
        rms = np.sqrt((cube[f"{main}_se"] ** 2).mean(("dyad", "session")))
        table["RMS standard error"] = rms.to_series()
    pooled = _pooled_reliability(cube, main)
    if pooled is not None:
        table["split-half reliability"] = pooled.to_series()
    if f"{main}_reliability" in cube:
        per_cell = cube[f"{main}_reliability"]
        table["per-cell reliability (median)"] = per_cell.median(("dyad", "session")).to_series()
    return table if len(table.columns) > 3 else None


@verbose
@fill_doc
def make_report(
    study_or_cube,
    *,
    raws=None,
    fit=None,
    surrogates=None,
    variance=None,
    title="mne-dyad analysis",
    n_traces=24,
    run=None,
    verbose=None,
    **params,
):
    """Assemble an HTML report of a dyadic analysis.

    The report has a section per stage: ``Run`` (when ``run`` is given: checks,
    rates, warnings, versions, configuration), ``Data`` (the study's shape and every
    session's segments), ``Traces`` (each session's dyad traces with their
    segments shaded, as a slider), ``Synchrony`` (the cube, the sampling error and split-half
    reliability of the shown summary, and the parameters),
    ``Chance`` (synchrony against its surrogates), ``Variance`` (dyad and session
    shares) and ``Alliance`` (the model's effects). The last three appear when
    their results are given.

    Parameters
    ----------
    study_or_cube : xarray.Dataset | Study | SimulatedStudy | mapping
        A synchrony cube. Passing a study (whose cube is then computed with
        :func:`mne_dyad.synchrony_cube` and ``**params``) is deprecated: use
        :func:`mne_dyad.pipeline.run_pipeline` and its results'
        :meth:`~mne_dyad.pipeline.PipelineResults.report`.
    raws : None | mapping
        ``{(dyad, session): raw}`` to draw as traces when ``study_or_cube`` is a
        cube. Ignored sessions are never loaded, so a lazy
        :class:`mne_dyad.io.Study` costs only the sessions shown.
    fit : None | AllianceFit
        A fitted alliance model: its effects are plotted and tabulated.
    surrogates : None | xarray.Dataset
        The output of :func:`mne_dyad.stats.test_above_chance`.
    variance : None | xarray.DataTree
        The output of :func:`mne_dyad.stats.variance_decomposition`.
    title : str
        Report title.
    n_traces : int | None
        Number of sessions to draw as traces (in the order of ``raws``); ``None``
        draws them all. Each trace adds about 100 kB to the HTML file.
    run : None | dict
        A run's provenance (``PipelineResults.provenance``): adds the ``Run``
        section first, with a red banner when a sampler's diagnostics fail,
        fewer than 10 dyads make between-dyad results unreliable, or sessions
        are mostly artifact; then the sampler diagnostics, the native and
        analysis rates and artifact share of every session, every warning the
        run logged, the software versions and the whole configuration.
    %(verbose)s
    **params
        Synchrony parameters for :func:`mne_dyad.synchrony_cube` when
        ``study_or_cube`` is a study (deprecated).

    Returns
    -------
    report : mne.Report
        Save it with ``report.save("report.html")``.

    See Also
    --------
    mne_dyad.report.SECTIONS
    """
    _validate_type(fit, (None, AllianceFit), "fit")
    _validate_type(surrogates, (None, xr.Dataset), "surrogates")
    _validate_type(variance, (None, xr.DataTree), "variance")
    _validate_type(n_traces, (None, "int-like"), "n_traces")
    if n_traces is not None and n_traces < 0:
        raise ValueError(f"n_traces must be >= 0 or None, got {n_traces}.")
    _validate_type(run, (None, dict), "run")
    cube, sessions = _split_input(study_or_cube, raws, params)
    report = mne.Report(title=title, verbose=False)
    if run is not None:
        _run_section(report, run, cube.sizes["dyad"])

    main = _main_variable(cube, fit)
    study_table, session_table = _overview(cube, main)
    _add_html(report, _html_table(study_table), "Study", "Data")
    what = "Minutes" if "segment_duration" in cube else main
    _add_html(report, _html_table(session_table), f"{what} per segment and session", "Data")
    if sessions and n_traces != 0:
        figs, captions, n_all = _traces(sessions, n_traces)
        shown = f"{len(figs)} of {n_all}" if len(figs) < n_all else f"all {n_all}"
        _add_figure(
            report,
            figs if len(figs) > 1 else figs[0],
            f"Dyad traces ({shown} sessions)",
            "Traces",
            caption=captions if len(figs) > 1 else captions[0],
        )

    caption = None
    if "n_windows" in cube:  # what each cell rests on: a cell of 1 window is noise
        n = cube["n_windows"].where(np.isfinite(cube[main]))
        few = int((n < _MIN_WINDOWS).sum())
        caption = (
            f"Windows per cell: median {float(n.median()):.0f}, fewest "
            f"{float(n.min()):.0f}; {few} cell(s) rest on fewer than {_MIN_WINDOWS} "
            "windows (crossed, left out of the colour scale)."
        )
    _add_figure(
        report,
        plot_cube(cube, main, min_windows=_MIN_WINDOWS, show=False),
        f"Synchrony cube ({main})",
        "Synchrony",
        caption=caption,
    )
    tables = [(name, _measurement_table(cube, name)) for name in _with_raw(cube, main)]
    tables = [(name, t) for name, t in tables if t is not None]
    if tables:
        measurement = pd.concat([t for _, t in tables], keys=[n for n, _ in tables])
        measurement.index.names = ["summary", "segment"]
        _add_html(
            report,
            _html_table(measurement.round(3)),
            f"Sampling error and reliability of {' and '.join(n for n, _ in tables)}",
            "Synchrony",
        )
    _add_html(report, _params_html(cube), "Synchrony parameters", "Synchrony")
    if surrogates is not None:
        _add_figure(
            report, plot_surrogates(surrogates, show=False), "Synchrony against chance", "Chance"
        )
        cols = ("delta_mean", "delta_lower", "delta_upper", "p_delta_gt_0")
        cols = [c for c in cols if c in surrogates]
        if cols:
            table = surrogates[cols].to_dataframe().round(3)
            _add_html(report, _html_table(table), "Group difference from chance", "Chance")
    if variance is not None:
        _add_figure(
            report,
            plot_variance(variance, show=False),
            "Dyad and session shares of synchrony variance",
            "Variance",
        )
        _add_html(
            report, _html_table(variance_table(variance).round(3)), "Variance shares", "Variance"
        )
    if fit is not None:
        _add_figure(report, plot_alliance_effects(fit, show=False), "Alliance effects", "Alliance")
        _add_html(report, _html_table(fit.summary().round(3)), "Posterior summary", "Alliance")
    logger.info(f"Report with {len(report.html)} items.")
    return report
