"""Design analysis: power, coverage and interval width of the within-dyad effect."""

import itertools

import numpy as np
import pandas as pd
import xarray as xr
from mne.parallel import parallel_func
from mne.utils import _check_option, _validate_type, logger, verbose

from ..utils._dask import _n_jobs
from ..utils._docs import fill_doc

#: Values of design_analysis's method=.
_METHODS = ("fast", "model")
_TARGET = "beta[within, IM, bond]"


def _as_grid(value, name, check):
    """Return a design argument as a list of values (a scalar as a list of one)."""
    values = list(value) if isinstance(value, (list, tuple, np.ndarray)) else [value]
    if not values:
        raise ValueError(f"{name} must name at least one value.")
    for v in values:
        check(v, name)
    return values


def _check_count(value, name, low):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer of at least {low}, got {value!r}.")


def _check_unit(value, name, low=-1.0, high=1.0, open_low=True):
    ok = isinstance(value, (int, float, np.floating)) and np.isfinite(value)
    ok = ok and (low < value if open_low else low <= value) and value <= high
    if not ok:
        bound = "(" if open_low else "["
        raise ValueError(f"{name} must be in {bound}{low}, {high}], got {value!r}.")


def _simulate_design(rng, n_dyads, n_sessions, rho, reliability, icc_sync, icc_alliance):
    """One study's observed synchrony ``P`` and alliance ``y`` (dyad, session).

    True synchrony ``T = a_d + t_ds`` (variance shares ``icc_sync`` and
    ``1 - icc_sync``); observed ``P = T + e`` with the error variance that makes
    the within-dyad reliability ``var(t) / (var(t) + var(e))`` equal to
    ``reliability``; alliance ``y = u_d + rho z_ds + sqrt(1 - rho^2) eps_ds`` with
    ``z`` the standardised session part of ``T``, so that the within-dyad
    correlation of true synchrony and alliance is ``rho`` and that of observed
    synchrony and alliance is ``rho * sqrt(reliability)``.
    """
    shape = (n_dyads, n_sessions)
    w = 1.0 - icc_sync
    z = rng.standard_normal(shape)
    true = np.sqrt(icc_sync) * rng.standard_normal((n_dyads, 1)) + np.sqrt(w) * z
    error_sd = np.sqrt(w * (1.0 - reliability) / reliability)
    observed = true + error_sd * rng.standard_normal(shape)
    u_sd = np.sqrt(icc_alliance / (1.0 - icc_alliance))
    y = u_sd * rng.standard_normal((n_dyads, 1)) + rho * z
    y = y + np.sqrt(1.0 - rho**2) * rng.standard_normal(shape)
    return observed, y


#: fit_alliance_model arguments design_analysis sets itself.
_OWN = ("cube", "alliance", "segments", "outcomes", "draws", "tune", "seed", "verbose")


def _check_model_options(model_options, method):
    """Return ``model_options`` as a dict of :func:`fit_alliance_model` arguments."""
    import inspect

    from ._models import fit_alliance_model

    _validate_type(model_options, (dict, None), "model_options")
    options = dict(model_options or {})
    if options and method != "model":
        raise ValueError('model_options applies to method="model" only.')
    known = set(inspect.signature(fit_alliance_model).parameters) - set(_OWN)
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(
            f"model_options has {unknown}, which are not fit_alliance_model arguments "
            f"design_analysis leaves to you; choose from {sorted(known)}."
        )
    return options


def _fast_interval(P, y, ci_prob):
    """Within-dyad correlation, its Fisher-z interval, and whether the slope excludes 0.

    Both variables are centred at each dyad's mean; the interval of the
    correlation uses ``N - D - 1`` degrees of freedom for ``atanh(r)`` (the dyad
    means and the slope spent).
    """
    from scipy.stats import norm

    p = P - P.mean(axis=1, keepdims=True)
    q = y - y.mean(axis=1, keepdims=True)
    r = float(np.sum(p * q) / np.sqrt(np.sum(p**2) * np.sum(q**2)))
    dof = P.size - P.shape[0] - 1
    half = norm.ppf(0.5 + ci_prob / 2) / np.sqrt(max(dof - 1, 1))
    z = np.arctanh(np.clip(r, -0.999999, 0.999999))
    return r, float(np.tanh(z - half)), float(np.tanh(z + half))


def _model_interval(P, y, ci_prob, draws, tune, seed, options):
    """Fit the alliance model; return its partial r, r interval and beta sign flags."""
    from ._models import fit_alliance_model

    n_dyads, n_sessions = P.shape
    coords = {
        "dyad": [f"D{d:03d}" for d in range(n_dyads)],
        "session": np.arange(1, n_sessions + 1),
    }
    cube = xr.Dataset(
        {"all_lags": (("dyad", "session", "segment"), P[..., None])},
        coords={**coords, "segment": ["IM"]},
    )
    alliance = xr.Dataset({"bond": (("dyad", "session"), y)}, coords=coords)
    fit = fit_alliance_model(
        cube,
        alliance,
        segments=("IM",),
        outcomes=("bond",),
        draws=draws,
        tune=tune,
        seed=seed,
        verbose="error",
        **options,
    )
    row = fit.summary(("beta",), ci_prob=ci_prob).loc[_TARGET]
    r = fit.partial_within_r().sel(segment="IM", outcome="bond")
    tail = (1 - ci_prob) / 2
    lower, upper = (float(v) for v in r.quantile([tail, 1 - tail]))
    return float(r.mean()), lower, upper, (row["ci_lower"] > 0, row["ci_upper"] < 0)


@verbose
@fill_doc
def design_analysis(
    n_dyads,
    sessions_per_dyad,
    rho_within,
    *,
    reliability=1.0,
    icc_sync=0.3,
    icc_alliance=0.5,
    n_sims=200,
    method="fast",
    ci_prob=0.89,
    draws=500,
    tune=500,
    model_options=None,
    seed=None,
    n_jobs=1,
    verbose=None,
):
    """Power, coverage and interval width for a planned study's within-dyad effect.

    Each simulated study has ``n_dyads`` dyads with ``sessions_per_dyad`` sessions.
    A session's true synchrony varies between dyads (share ``icc_sync``) and
    between sessions; it is measured with the within-dyad ``reliability`` (the
    share of the session-to-session variance of the measured value that is true;
    see :ref:`methods-reliability` for the reliability of a cube's values), and its
    session part correlates ``rho_within`` with the alliance scale within dyads.
    Each study is analysed, and the results over ``n_sims`` studies give:

    - **power**: the share of studies whose interval for the within-dyad effect
      excludes 0 in the true direction (``rho_within > 0``), or, when
      ``rho_within`` is 0, the share that excludes 0 at all (the false-positive
      rate);
    - **coverage**: the share of studies whose interval for the partial
      within-dyad correlation contains the correlation the data can show,
      ``rho_within * sqrt(reliability)`` (measurement error attenuates it);
    - **width**: the mean width of that interval.

    Parameters
    ----------
    n_dyads, sessions_per_dyad : int | sequence of int
        Study size; a sequence makes a grid (every combination of every
        argument given as a sequence).
    rho_within : float | sequence of float
        Within-dyad correlation of true synchrony and alliance.
    reliability : float | sequence of float
        Within-dyad reliability of the measured synchrony, in (0, 1].
    icc_sync, icc_alliance : float
        Shares of the variance of true synchrony and of alliance that lie between
        dyads. They do not change the within-dyad analysis much, but the model
        path estimates them.
    n_sims : int
        Simulated studies per design point.
    method : str
        ``"fast"`` (default): the within-dyad correlation of the dyad-centred
        values with a Fisher-z interval, which takes milliseconds per study. It
        stands for the model with one within slope for all dyads, no
        detrending and observed centring (``model_options=dict(random_slopes=False,
        detrend=False, session_covariate="linear", centering="observed")``), and a
        test checks that the two agree.
        ``"model"``: :func:`fit_alliance_model` on each study
        (``segments=("IM",)``, ``outcomes=("bond",)``, its defaults unless
        ``model_options`` says otherwise), the interval of
        ``beta[within, IM, bond]`` for power and of its partial correlation
        (:meth:`AllianceFit.partial_within_r`) for coverage: seconds per study.
        The model's defaults (random slopes, detrending) have wider intervals
        and less power than the fast path (see :ref:`methods-design`): use
        ``"model"`` for the power of the default analysis.
    ci_prob : float
        Probability of the intervals (default 0.89, as in the model summaries).
    draws, tune : int
        Sampling of the model path.
    model_options : dict | None
        Further :func:`fit_alliance_model` arguments of the model path (for
        example ``{"random_slopes": False}``); None: its defaults.
    %(seed)s
    n_jobs : int | None
        Model fits to run in parallel (``method="model"``; ``-1`` for all cores).
        ``None`` hands them to the active joblib backend, for example a dask
        cluster inside ``joblib.parallel_config(backend="dask")``. Every
        study's data and sampler seed are drawn before the fits, so the table
        does not depend on ``n_jobs``, up to the last bits of the compiled model:
        a process that compiles it and one that loads it from the disk cache can
        differ there, and with random slopes the chains then part (mean interval
        widths 0.598 and 0.599 in a test). Default 1.
    %(verbose)s

    Returns
    -------
    table : pandas.DataFrame
        One row per design point: the design, ``power``, ``coverage``,
        ``width`` and their Monte Carlo SEs (``power_se`` and ``coverage_se``:
        ``sqrt(p (1 - p) / n_sims)``; ``width_se``: SD / ``sqrt(n_sims)``),
        ``method`` and ``n_sims``.

    Notes
    -----
    The simulation is of the analysis, not of EDA: it assumes that the
    synchrony values behave as the reliability says. For a study's own pipeline,
    estimate the reliability with the cube's ``<summary>_reliability`` (pooled
    per segment) and run :func:`mne_dyad.simulation.simulate_study` through the
    pipeline for the last word.

    Examples
    --------
    >>> from mne_dyad.stats import design_analysis
    >>> table = design_analysis([20, 40], 4, 0.3, reliability=0.6, n_sims=100, seed=0)
    >>> table[["n_dyads", "power"]].round(2).values.tolist()
    [[20.0, 0.53], [40.0, 0.87]]
    """
    _check_option("method", method, _METHODS)
    options = _check_model_options(model_options, method)
    _check_count(n_sims, "n_sims", 1)
    _check_unit(ci_prob, "ci_prob", 0.0, 0.999)
    for value, name in ((icc_sync, "icc_sync"), (icc_alliance, "icc_alliance")):
        _check_unit(value, name, 0.0, 0.99, open_low=False)
    grid = list(
        itertools.product(
            _as_grid(n_dyads, "n_dyads", lambda v, n: _check_count(v, n, 3)),
            _as_grid(sessions_per_dyad, "sessions_per_dyad", lambda v, n: _check_count(v, n, 2)),
            _as_grid(rho_within, "rho_within", lambda v, n: _check_unit(v, n, -0.99, 0.99)),
            _as_grid(reliability, "reliability", lambda v, n: _check_unit(v, n, 0.0, 1.0)),
        )
    )
    rng = np.random.default_rng(seed)
    rows = []
    for n_d, n_s, rho, rel in grid:
        truth = rho * np.sqrt(rel)
        hits, covered, widths = [], [], []
        # every study's data (and sampler seed) first, in one stream: the same
        # studies whatever n_jobs
        studies = []
        for _ in range(n_sims):
            P, y = _simulate_design(rng, n_d, n_s, rho, rel, icc_sync, icc_alliance)
            studies.append((P, y, int(rng.integers(2**31)) if method == "model" else None))
        if method == "fast":  # (r lower, r upper, (excludes 0 above, below))
            intervals = []
            for P, y, _ in studies:
                _, lower, upper = _fast_interval(P, y, ci_prob)
                intervals.append((lower, upper, (lower > 0, upper < 0)))
        else:  # power from beta's interval, coverage from the partial r's
            logger.info(f"Design {n_d} dyads x {n_s} sessions, rho {rho}: {n_sims} model fits ...")
            parallel, run, _ = parallel_func(_model_interval, _n_jobs(n_jobs), total=n_sims)
            fits = parallel(run(P, y, ci_prob, draws, tune, s, options) for P, y, s in studies)
            intervals = [fit[1:] for fit in fits]
        for lower, upper, (above, below) in intervals:
            hits.append(above if rho > 0 else below if rho < 0 else above or below)
            covered.append(lower <= truth <= upper)
            widths.append(upper - lower)
        power, coverage = float(np.mean(hits)), float(np.mean(covered))
        rows.append(
            {
                "n_dyads": n_d,
                "sessions_per_dyad": n_s,
                "rho_within": rho,
                "reliability": rel,
                "power": power,
                "power_se": np.sqrt(power * (1 - power) / n_sims),
                "coverage": coverage,
                "coverage_se": np.sqrt(coverage * (1 - coverage) / n_sims),
                "width": float(np.mean(widths)),
                "width_se": float(np.std(widths, ddof=1) / np.sqrt(n_sims))
                if n_sims > 1
                else np.nan,
                "method": method,
                "n_sims": n_sims,
            }
        )
    table = pd.DataFrame(rows)
    table.attrs.update(ci_prob=ci_prob, icc_sync=icc_sync, icc_alliance=icc_alliance)
    return table
