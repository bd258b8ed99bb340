"""Chance-corrected synchrony: each cell's excess over its own surrogates.

See docs/methods.rst, section methods-chance-corrected.
"""

import json

import numpy as np
import xarray as xr
from mne.utils import _check_option, _validate_type, logger, verbose, warn

from ..synchrony._api import _check_method
from ..utils._docs import fill_doc
from ._compare import KINDS, _scalar_summaries, compare_with_surrogates

#: The surrogate kind of the chance correction (docs/methods.rst explains the choice).
_DEFAULT_KIND = "circular_shift"

_NOT_METHOD_PARAMS = ("method", "segments", "roles", "signal", "mne_dyad_version")


def _cube_params(cube):
    """Return the method, options and method parameters the cube was computed with."""
    raw = cube.attrs.get("mne_dyad_params")
    try:
        params = json.loads(raw)
        method = params["method"]
    except (TypeError, ValueError, KeyError):
        raise ValueError(
            "The cube has no readable attrs['mne_dyad_params'] (method and parameters): "
            "pass a cube from mne_dyad.synchrony_cube or mne_dyad.read_cube."
        ) from None
    spec, _ = _check_method(method, {})
    method_params = {k: v for k, v in params.items() if k in spec.defaults}
    options = {
        "segments": tuple(params.get("segments", cube.segment.values)),
        "roles": tuple(params["roles"]) if params.get("roles") else None,
        "signal": params.get("signal", "raw"),
    }
    return method, spec, options, method_params


def _as_comparison(comparison, summaries):
    """Return the comparison with a ``summary`` dim holding ``summaries``."""
    _validate_type(comparison, xr.Dataset, "comparison")
    missing = [v for v in ("observed", "sur_mean", "sur_sd", "surrogates") if v not in comparison]
    if missing:
        raise ValueError(
            f"comparison has no {missing}: pass the output of "
            "mne_dyad.surrogates.compare_with_surrogates."
        )
    if "summary" not in comparison.dims:
        comparison = comparison.expand_dims(summary=[comparison.attrs.get("summary", "")])
    have = list(comparison.summary.values)
    absent = [s for s in summaries if s not in have]
    if absent:
        raise ValueError(
            f"comparison has no surrogates of {absent} (it has {have}). Compute them with "
            "compare_with_surrogates(sessions, summary=[...]) or pass summaries=..."
        )
    return comparison.sel(summary=list(summaries))


def _check_same_values(cube, comparison, summaries):
    """Raise unless the comparison's real values are the cube's (same sessions, parameters)."""
    for summary in summaries:
        observed = comparison["observed"].sel(summary=summary)
        mine = cube[summary].reindex_like(observed)
        both = np.isfinite(mine.values) & np.isfinite(observed.values)
        if not np.allclose(mine.values[both], observed.values[both], rtol=1e-9, atol=1e-12):
            raise ValueError(
                f"The comparison's {summary!r} values differ from the cube's: it was computed "
                "from other sessions or with other parameters. Compute both from the same "
                "sessions, or let chance_corrected draw the surrogates (comparison=None)."
            )


@verbose
@fill_doc
def chance_corrected(
    cube,
    sessions=None,
    *,
    comparison=None,
    summaries=None,
    kind=_DEFAULT_KIND,
    n_surrogates=200,
    min_shift=None,
    shuffle_segment=None,
    seed=None,
    n_jobs=1,
    store_dir=None,
    verbose=None,
):
    """Add chance-corrected synchrony to a cube: each value's excess over its surrogates.

    For every per-cell scalar summary ``S`` of the cube (``all_lags``,
    ``lag0``, ... for WCLC) and every dyad, session and segment, the surrogates
    of that cell give the synchrony expected without coupling:

    - ``S_excess = S - mean(surrogates)``, with ``S_excess_se = sqrt(S_se**2 +
      sd(surrogates)**2 / n)``, the value's own sampling error and that of the
      surrogate mean;
    - ``S_es = S_excess / sd(surrogates)``, with ``S_es_se = S_excess_se /
      sd(surrogates)``.

    All summaries come from one set of surrogates, drawn with the method and
    parameters recorded in the cube. The chance test can reuse them: compute a
    comparison once with :func:`compare_with_surrogates` (``summary=[...]``),
    pass it here as ``comparison`` and one summary of it to
    :func:`mne_dyad.stats.fit_chance_model`.

    Parameters
    ----------
    cube : xarray.Dataset
        A synchrony cube (:func:`mne_dyad.synchrony_cube`).
    sessions : None | Study | SimulatedStudy | dict
        The sessions the cube was computed from (a study from
        :func:`mne_dyad.io.read_study` or :func:`mne_dyad.simulation.simulate_study`,
        or a ``{(dyad, session): raw}`` mapping); not needed with ``comparison``.
    comparison : None | xarray.Dataset
        Surrogates already drawn for these sessions (the output of
        :func:`compare_with_surrogates`, one summary or a list); its real values
        must equal the cube's.
    summaries : None | list of str
        Summaries to correct (default: every per-cell scalar summary of the
        cube's method, or with ``comparison`` every one it has surrogates of).
    kind : str
        Surrogate kind (see :func:`compare_with_surrogates`). The default,
        ``"circular_shift"``, was chosen by a negative control in which both
        partners' arousal varies by session: it keeps both partners' own signals,
        and so their arousal, in every surrogate (:ref:`methods-chance-corrected`).
    n_surrogates : int
        Surrogates per cell.
    min_shift, shuffle_segment : None | float
        Options of the within-session kinds (see :func:`compare_with_surrogates`).
    %(seed)s
    %(n_jobs)s
    %(store_dir)s
    %(verbose)s

    Returns
    -------
    cube : xarray.Dataset
        A copy of the cube with ``<S>_excess``, ``<S>_excess_se``, ``<S>_es`` and
        ``<S>_es_se`` for each summary and ``attrs["mne_dyad_chance_correction"]``
        (a JSON record of the surrogates). Use them anywhere a summary is taken,
        e.g. ``summary="all_lags_es"``.

    Examples
    --------
    >>> import mne_dyad as md
    >>> study = md.simulation.simulate_study(n_dyads=5, n_sessions=2, n_usable=8,
    ...                                      duration=600, seed=0)
    >>> cube = md.synchrony_cube(study, verbose=False)
    >>> corrected = md.surrogates.chance_corrected(cube, study, n_surrogates=10, seed=1,
    ...                                            verbose="error")
    >>> corrected.all_lags_excess.dims
    ('dyad', 'session', 'segment')
    """
    _validate_type(cube, xr.Dataset, "cube")
    method, spec, options, method_params = _cube_params(cube)
    allowed = [s for s in _scalar_summaries(spec) if s in cube]
    if summaries is None and comparison is not None:  # every summary it has surrogates of
        _validate_type(comparison, xr.Dataset, "comparison")
        has = comparison.summary.values if "summary" in comparison.dims else []
        has = has if len(has) else [comparison.attrs.get("summary")]
        summaries = [s for s in allowed if s in list(has)]
    elif summaries is None:
        summaries = allowed
    else:
        _validate_type(summaries, (list, tuple), "summaries")
        bad = [s for s in summaries if s not in allowed]
        if bad:
            raise ValueError(f"summaries {bad} are not scalar summaries of the cube: {allowed}.")
        summaries = list(summaries)
    if not summaries:
        raise ValueError(f"The cube has no scalar summary of {method} to correct.")
    _check_option("kind", kind, KINDS)
    if comparison is None:
        if sessions is None:
            raise ValueError(
                "Pass the sessions the cube was computed from (to draw surrogates), or a "
                "comparison from compare_with_surrogates."
            )
        comparison = compare_with_surrogates(
            sessions,
            method=method,
            summary=list(summaries),
            kind=kind,
            n_surrogates=n_surrogates,
            min_shift=min_shift,
            shuffle_segment=shuffle_segment,
            seed=seed,
            n_jobs=n_jobs,
            store_dir=store_dir,
            **options,
            **method_params,
        )
    comparison = _as_comparison(comparison, summaries)
    _check_same_values(cube, comparison, summaries)
    comp_params = json.loads(comparison.attrs.get("mne_dyad_params", "{}"))
    comparison = comparison.reindex(
        dyad=cube.dyad.values, session=cube.session.values, segment=cube.segment.values
    )
    out = cube.copy()
    n_valid = np.isfinite(comparison["surrogates"]).sum("surrogate")
    uncorrected = 0
    for summary in summaries:
        cmp = comparison.sel(summary=summary, drop=True)
        value = cube[summary]
        n_sur = n_valid.sel(summary=summary, drop=True)
        sur_var = cmp["sur_sd"] ** 2 / n_sur.where(n_sur > 0)
        own = cube[f"{summary}_se"] ** 2 if f"{summary}_se" in cube else 0.0
        excess = value - cmp["sur_mean"]
        excess_se = np.sqrt(own + sur_var)
        es = excess / cmp["sur_sd"]
        long_name = value.attrs.get("long_name", summary)
        units = value.attrs.get("units", "1")
        out[f"{summary}_excess"] = excess.assign_attrs(
            long_name=f"excess over the surrogate mean of: {long_name}", units=units
        )
        out[f"{summary}_excess_se"] = excess_se.assign_attrs(
            long_name=f"standard error of the excess over the surrogate mean of: {long_name}",
            units=units,
        )
        out[f"{summary}_es"] = es.assign_attrs(
            long_name=f"excess over the surrogates in surrogate SDs of: {long_name}", units="1"
        )
        out[f"{summary}_es_se"] = (excess_se / cmp["sur_sd"]).assign_attrs(
            long_name=f"standard error of the surrogate effect size of: {long_name}", units="1"
        )
        uncorrected = max(uncorrected, int((np.isfinite(value) & ~np.isfinite(excess)).sum()))
    if uncorrected:
        warn(
            f"{uncorrected} cell(s) have a value but no surrogate (no partner with the "
            "segment, or a span too short to shift): their corrected values are NaN."
        )
    out.attrs["mne_dyad_chance_correction"] = json.dumps(
        {
            "kind": comp_params.get("kind", comparison.attrs.get("kind")),
            "n_surrogates": int(comparison.sizes["surrogate"]),
            "seed": comp_params.get("seed"),
            "summaries": list(summaries),
        },
        default=str,
    )
    logger.info(
        f"Chance-corrected {len(summaries)} summaries against "
        f"{comparison.sizes['surrogate']} {comparison.attrs.get('kind')} surrogates per cell."
    )
    return out
