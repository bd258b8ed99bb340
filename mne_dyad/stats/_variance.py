"""Variance decomposition of synchrony: dyads, sessions (and therapists)."""

import json
import warnings

import numpy as np
import pandas as pd
import xarray as xr
from mne.utils import _check_option, _validate_type, logger, verbose, warn

from .._version import __version__
from ..synchrony._reliability import _pooled_reliability, _split_half_core
from ..utils._checks import _renamed
from ..utils._docs import fill_doc
from ..utils._imports import _soft_import
from ._measurement import _error_se
from ._models import _therapist_of
from ._results import _SAMPLE_DIMS, _interval
from ._sampling import _check_sampling, _diagnose, _sample, _structure_key

#: Shares of the true variance, then of the observed variance (true + sampling error).
_COMPONENTS = (
    "icc_therapist",
    "icc_dyad",
    "session_share",
    "error_share",
    "icc_therapist_observed",
    "icc_dyad_observed",
    "session_share_observed",
)

#: Components of a noise-floor decomposition shown by ``variance_table``.
_FLOOR = ("icc_therapist", "icc_dyad", "session_share")


def _long_format(cube, variable, segments, therapist, se_name=None):
    values = cube[variable].sel(segment=list(segments)).transpose("dyad", "session", "segment")
    ok = np.isfinite(values.values)
    se = None
    if se_name is not None:
        se = cube[se_name].sel(segment=list(segments)).transpose("dyad", "session", "segment")
        se = se.values
        ok &= np.isfinite(se) & (se >= 0)
    di, si, gi = np.nonzero(ok)
    dyads = list(cube.dyad.values)
    for g, seg in enumerate(segments):
        n_dyads = len(set(di[gi == g]))
        if n_dyads < 3:
            raise ValueError(
                f"Only {n_dyads} dyad(s) have a {seg!r} {variable} value; a variance "
                "decomposition needs at least 3."
            )
    ther = _therapist_of(therapist, sorted({dyads[i] for i in di}, key=str), cube)
    return values.values[ok], (None if se is None else se[ok]), di, si, gi, ther, dyads


def _is_comparison(data):
    return "surrogates" in data and "sur_mean" in data


def _noise_floor_cube(comparison, summary, measurement_error):
    """Return a cube of one surrogate per cell: a study of this shape without coupling."""
    if "summary" in comparison.dims:
        have = list(comparison.summary.values)
        if summary not in have:
            raise ValueError(
                f"The comparison has no surrogates of {summary!r}; it has {have}. Pass "
                "summary= one of them."
            )
        comparison = comparison.sel(summary=summary)
    else:
        summary = comparison.attrs.get("summary", summary)
    logger.info(
        f"Noise floor: decomposing one {comparison.attrs.get('kind', '')} surrogate of "
        f"{summary} per cell as observed values (surrogates have no standard error"
        + (", so measurement_error is not applied)." if measurement_error else ").")
    )
    values = comparison["surrogates"].isel(surrogate=0, drop=True)
    coords = dict(values.coords)
    if "therapist" in comparison.coords:
        coords["therapist"] = comparison.therapist
    cube = xr.Dataset({summary: values}, coords=coords, attrs=comparison.attrs)
    return cube, summary, False


@verbose
@fill_doc
def variance_decomposition(
    cube,
    *,
    summary="all_lags",
    measurement_error=True,
    se_model="pooled",
    segments=None,
    therapist=None,
    ci_prob=0.89,
    draws=1000,
    tune=1000,
    chains=2,
    sampler="nutpie",
    seed=None,
    variable=None,
    verbose=None,
):
    """Split synchrony into dyad-level and session-level variance (see :ref:`methods-variance`).

    Per segment type ``g``: ``true[d, s] = mu + u_d + e_ds`` with ``u ~ N(0,
    tau^2)``, ``e ~ N(0, sigma^2)`` (plus ``v_t ~ N(0, phi^2)`` for the therapist
    of dyad ``d`` when ``therapist`` is given). With ``measurement_error`` (the
    default) each observed value is ``obs[d, s] ~ N(true[d, s], se[d, s]^2)``
    with ``se`` the cube's ``<summary>_se``, so the session share is the share of
    the *true* variance and the sampling error of each value is reported apart
    (``error_share``); without it ``obs = true``, and the sampling error lands in
    the session share. Fitted on the standardised variable (shares do not depend
    on the scale) with half-normal(1) priors on the SDs and non-centred effects
    (the latent true values are integrated out). ``ICC_dyad = tau^2 / total`` and the session
    share ``sigma^2 / total`` (with therapists, ``ICC_therapist = phi^2 / total``).

    Parameters
    ----------
    cube : xarray.Dataset
        A synchrony cube, or the output of
        :func:`mne_dyad.surrogates.compare_with_surrogates` or
        :func:`mne_dyad.stats.test_above_chance` for the **noise floor**: the
        first surrogate of every cell is decomposed as if it were the study, a
        study of the same shape in which no dyad is coupled. Its shares are of the
        observed variance (surrogates have no standard error); compare them with
        the real study's ``icc_dyad_observed`` and ``session_share_observed``.
    summary : str
        The cube variable to decompose (a ``dyad x session x segment`` summary).
    measurement_error : bool
        Model each value's sampling error with its standard error, the cube
        variable ``<summary>_se`` (default True). Without it, sampling error is
        counted as session variance. Not applied to a comparison.
    se_model : str
        How the standard errors enter the measurement-error model. ``"pooled"``
        (the default): per segment type, ``se^2`` predicted from each cell's size
        (the cube's ``n_windows``, else ``n_segments``, else ``segment_duration``)
        as ``c * size^b`` fitted to the cells' own SEs, keeping their mean square.
        ``"cell"``: each cell's own SE as if it were known. A cell's SE rests on a
        few dozen windows and is noisy, and treating it as known inflates the
        session share (see :ref:`methods-variance` for the calibration).
    segments : None | sequence of str
        Segment types (default: every segment of the cube).
    therapist : None | bool | dict
        Add a therapist level: True uses the cube's ``therapist`` coordinate, or
        pass ``{dyad: therapist}``.
    ci_prob : float
        Probability mass of the equal-tailed intervals of the summary.
    draws, tune, chains, sampler
        Sampling (see :func:`mne_dyad.stats.fit_alliance_model`).
    %(seed)s
    variable : None | str
        Deprecated old name of ``summary``; it will be removed in 0.3.
    %(verbose)s

    Returns
    -------
    result : xarray.DataTree
        ArviZ groups (``posterior`` with ``icc_dyad``, ``session_share``,
        ``icc_therapist`` and, with ``measurement_error``, ``error_share``,
        ``icc_dyad_observed`` and ``session_share_observed`` per segment,
        ``sample_stats``, ``observed_data``) and a
        ``summary`` group: a tidy table on ``segment x component`` with ``mean``,
        ``sd``, ``ci_lower``, ``ci_upper`` (as a DataFrame: :func:`variance_table`).

    Examples
    --------
    >>> import mne_dyad as md
    >>> study = md.simulation.simulate_study(n_dyads=8, n_sessions=3, n_usable=20,
    ...                                      duration=600, seed=0)
    >>> cube = md.synchrony_cube(study.raws, verbose=False)
    >>> vd = md.stats.variance_decomposition(cube, draws=200, tune=200, sampler="pymc",
    ...                                      seed=1, verbose="error")
    >>> table = md.stats.variance_table(vd)
    >>> list(table.columns)
    ['mean', 'sd', 'ci_lower', 'ci_upper']
    >>> for component in table.loc["IM"].index:
    ...     print(component)
    icc_dyad
    session_share
    error_share
    icc_dyad_observed
    session_share_observed
    split_half_reliability
    """
    _validate_type(cube, xr.Dataset, "cube")
    what = "variance decomposition"
    if _is_comparison(cube):
        cube, summary, measurement_error = _noise_floor_cube(cube, summary, measurement_error)
        what = "noise-floor variance decomposition"
    variable = _renamed(
        summary,
        variable,
        old="variable",
        new="summary",
        func="variance_decomposition",
        default="all_lags",
    )
    if variable not in cube.data_vars:
        raise ValueError(f"The cube has no variable {variable!r}; it has {sorted(cube.data_vars)}.")
    if set(cube[variable].dims) != {"dyad", "session", "segment"}:
        raise ValueError(
            f"{variable!r} has dims {cube[variable].dims}: pick a per-segment summary."
        )
    segments = list(cube.segment.values) if segments is None else list(segments)
    missing = [s for s in segments if s not in list(cube.segment.values)]
    if missing:
        raise ValueError(f"The cube has no segment(s) {missing}.")
    _check_sampling(draws, tune, chains, sampler)
    _validate_type(measurement_error, bool, "measurement_error")
    _check_option("se_model", se_model, ("pooled", "cell"))
    se_name = f"{variable}_se"
    if measurement_error and se_name not in cube.data_vars:
        raise ValueError(
            f"measurement_error=True needs the standard error of each value, the cube "
            f"variable {se_name!r}, which this cube lacks. Pass measurement_error=False "
            "to decompose the observed values (sampling error then counts as session "
            "variance), or pick a summary with a standard error."
        )
    y, se, di, si, gi, ther, dyads = _long_format(
        cube, variable, segments, therapist, se_name if measurement_error else None
    )
    se = _error_se(cube, se, segments, gi, di, si, se_model, variable)
    pm = _soft_import("pymc", "variance_decomposition")
    mean = np.array([y[gi == g].mean() for g in range(len(segments))])
    sd = np.array([y[gi == g].std(ddof=1) for g in range(len(segments))])
    z = (y - mean[gi]) / sd[gi]
    # mean squared standard error per segment, in units of the standardised values
    se_z = np.zeros_like(z) if se is None else se / sd[gi]
    err = np.array([np.mean(se_z[gi == g] ** 2) for g in range(len(segments))])
    used = sorted(set(di))
    remap = {d: k for k, d in enumerate(used)}
    d_idx = np.array([remap[d] for d in di])
    coords = {"segment": segments, "dyad": [dyads[d] for d in used], "obs": np.arange(y.size)}
    if ther is not None:
        names = sorted({str(ther[dyads[d]]) for d in used})
        coords["therapist"] = names
        t_idx = np.array([names.index(str(ther[dyads[d]])) for d in di])
    with pm.Model(coords=coords) as model:
        # data as pm.Data: a compiled nutpie model is reused for same-shaped data
        gi = pm.Data("segment_idx", gi, dims="obs")
        d_idx = pm.Data("dyad_idx", d_idx, dims="obs")
        mu = pm.Normal("mu", 0.0, 1.0, dims="segment")
        tau = pm.HalfNormal("tau", 1.0, dims="segment")
        sigma = pm.HalfNormal("sigma", 1.0, dims="segment")
        z_u = pm.Normal("z_dyad", 0.0, 1.0, dims=("dyad", "segment"))
        loc = mu[gi] + z_u[d_idx, gi] * tau[gi]
        total = tau**2 + sigma**2
        error = pm.Data("mean_error_variance", err, dims="segment")
        if ther is not None:
            phi = pm.HalfNormal("phi", 1.0, dims="segment")
            z_t = pm.Normal("z_therapist", 0.0, 1.0, dims=("therapist", "segment"))
            t_idx = pm.Data("therapist_idx", t_idx, dims="obs")
            loc = loc + z_t[t_idx, gi] * phi[gi]
            total = total + phi**2
            pm.Deterministic("icc_therapist", phi**2 / total, dims="segment")
            if se is not None:
                pm.Deterministic("icc_therapist_observed", phi**2 / (total + error), dims="segment")
        pm.Deterministic("icc_dyad", tau**2 / total, dims="segment")
        pm.Deterministic("session_share", sigma**2 / total, dims="segment")
        # observed = true + sampling error; the true session values are integrated out
        se_obs = pm.Data("se", se_z, dims="obs")
        pm.Normal(
            "y",
            loc,
            pm.math.sqrt(sigma[gi] ** 2 + se_obs**2),
            observed=pm.Data("z", z, dims="obs"),
            dims="obs",
        )
        if se is not None:  # the observed variance also holds the sampling error
            pm.Deterministic("error_share", error / (total + error), dims="segment")
            pm.Deterministic("icc_dyad_observed", tau**2 / (total + error), dims="segment")
            pm.Deterministic(
                "session_share_observed", (sigma**2 + error) / (total + error), dims="segment"
            )
    logger.info(
        f"Variance decomposition of {variable} ({y.size} session values, {len(used)} dyads"
        + (f", {len(coords['therapist'])} therapists" if ther is not None else "")
        + f") per segment {segments}."
    )
    tree = _sample(
        model,
        draws=draws,
        tune=tune,
        chains=chains,
        sampler=sampler,
        seed=seed,
        target_accept=0.95,
        cache_key=_structure_key(model, "variance"),
    )
    diagnostics = _diagnose(tree, ("icc_dyad", "mu"), what)
    post = tree["posterior"]
    comps = [c for c in _COMPONENTS if c in post]
    table = {
        k: np.full((len(segments), len(comps)), np.nan)
        for k in ("mean", "sd", "ci_lower", "ci_upper")
    }
    for j, comp in enumerate(comps):
        draws_c = post[comp]
        table["mean"][:, j] = draws_c.mean(_SAMPLE_DIMS).values
        table["sd"][:, j] = draws_c.std(_SAMPLE_DIMS, ddof=1).values
        lower, upper = _interval(draws_c, ci_prob)
        table["ci_lower"][:, j], table["ci_upper"][:, j] = lower.values, upper.values
    reliability = _reliability_rows(cube, variable, segments, ci_prob, seed)
    if reliability is not None:
        comps = [*comps, "split_half_reliability"]
        for k in table:
            table[k] = np.column_stack([table[k], reliability[k]])
    summary = xr.Dataset(
        {k: (("segment", "component"), v) for k, v in table.items()},
        coords={"segment": segments, "component": comps},
        attrs={
            "ci_prob": ci_prob,
            "summary": variable,
            "mne_dyad_params": json.dumps(
                {
                    "summary": variable,
                    "measurement_error": measurement_error,
                    "se_model": se_model,
                    "segments": segments,
                    "therapist": ther is not None,
                    "draws": draws,
                    "tune": tune,
                    "chains": chains,
                    "sampler": sampler,
                    "seed": seed,
                    "mne_dyad_version": __version__,
                },
                default=str,
            ),
            "mne_dyad_diagnostics": json.dumps(diagnostics),
        },
    )
    tree["summary"] = xr.DataTree(summary)
    share = summary["mean"].sel(component="session_share").values
    if not measurement_error and np.any(share < 0.05):
        warn(
            "A segment's session share is under 5 percent: check the variable varies within dyads."
        )
    return tree


def _reliability_rows(cube, variable, segments, ci_prob, seed, n_boot=400):
    """Split-half reliability per segment, with a percentile interval over dyads resampled.

    None when the cube has no split halves of ``variable``.
    """
    if _pooled_reliability(cube, variable) is None:
        return None
    sub = cube[[variable, f"{variable}_split", "n_windows"]].sel(segment=segments)
    values = {k: np.asarray(sub[k].transpose("dyad", "session", "segment")) for k in sub}

    def pooled(idx):
        cells = [values[k][idx] for k in (variable, f"{variable}_split", "n_windows")]
        return np.array(
            [_split_half_core(*(c[..., g] for c in cells))[1] for g in range(len(segments))]
        )

    n_dyads = values[variable].shape[0]
    rng = np.random.default_rng(seed)
    boot = np.array([pooled(rng.integers(0, n_dyads, n_dyads)) for _ in range(n_boot)])
    alpha = (1 - ci_prob) / 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return {
            "mean": pooled(np.arange(n_dyads)),
            "sd": np.nanstd(boot, axis=0, ddof=1),
            "ci_lower": np.nanquantile(boot, alpha, axis=0),
            "ci_upper": np.nanquantile(boot, 1 - alpha, axis=0),
        }


def variance_table(result):
    """Return the tidy summary of :func:`variance_decomposition` as a DataFrame.

    Parameters
    ----------
    result : xarray.DataTree
        The output of :func:`variance_decomposition`.

    Returns
    -------
    table : pandas.DataFrame
        Rows (segment, component): ``mean``, ``sd``, ``ci_lower``, ``ci_upper``.
        The components are the shares of the true variance (``icc_therapist``
        when modelled, ``icc_dyad``, ``session_share``) and, when the
        decomposition modelled measurement error, ``error_share`` (the part of the
        observed variance that is sampling error) and the shares of the observed
        variance, ``icc_dyad_observed`` and ``session_share_observed`` (what a
        decomposition that ignores sampling error reports). When the cube has
        split halves of the summary, ``split_half_reliability`` is its pooled
        split-half reliability per segment (:ref:`methods-reliability`), with a
        percentile interval over 400 resamples of the dyads. When the result
        holds a ``noise_floor`` group (the ``summary`` of a decomposition of the
        chance test's surrogates, as :func:`mne_dyad.pipeline.run_pipeline`
        adds), its shares follow as ``icc_dyad_noise_floor`` and
        ``session_share_noise_floor``: what a study of the same shape with no
        coupling shows, to compare with the ``*_observed`` shares.
    """
    _validate_type(result, xr.DataTree, "result")
    if "summary" not in result.children:
        raise ValueError("result has no 'summary' group: pass variance_decomposition's output.")
    table = result["summary"].to_dataset()
    if "noise_floor" in result.children:
        floor = result["noise_floor"].to_dataset()
        floor = floor.sel(component=[c for c in floor.component.values if c in _FLOOR])
        floor = floor.assign_coords(component=[f"{c}_noise_floor" for c in floor.component.values])
        table = xr.concat([table, floor[list(table.data_vars)]], dim="component")
    return pd.DataFrame(table.to_dataframe())
