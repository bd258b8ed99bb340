"""Group-level synchrony above chance: a multilevel model of the excess over surrogates.

The per-session comparison with surrogates is :mod:`mne_dyad.surrogates`' job; this
module holds the PyMC model that pools it (docs/methods.rst, section
methods-surrogates).
"""

import json

import numpy as np
import xarray as xr
from mne.utils import _validate_type, logger, verbose, warn

from ..surrogates import compare_with_surrogates
from ..utils._docs import fill_doc
from ..utils._imports import _soft_import
from ._results import _interval
from ._sampling import _check_sampling, _diagnose, _sample, _structure_key

#: Variables :func:`fit_chance_model` adds, on ``segment``.
_GROUP_VARIABLES = ("delta_mean", "delta_sd", "delta_lower", "delta_upper", "p_delta_gt_0")


def _group_model(d, dyad_idx, seg_idx, dyads, segments):
    """Build the model d = delta + u_dyad + e per segment type (non-centred, on d / SD)."""
    pm = _soft_import("pymc", "The group-level chance model")
    scale = np.array([np.std(d[seg_idx == g], ddof=1) for g in range(len(segments))])
    scale[~(scale > 0)] = 1.0
    coords = {"segment": list(segments), "dyad": list(dyads), "obs": np.arange(d.size)}
    with pm.Model(coords=coords) as model:
        # data as pm.Data: a compiled nutpie model is reused for same-shaped data
        d_z = pm.Data("d_z", d / scale[seg_idx], dims="obs")
        seg_idx = pm.Data("segment_idx", seg_idx, dims="obs")
        dyad_idx = pm.Data("dyad_idx", dyad_idx, dims="obs")
        scale = pm.Data("scale", scale, dims="segment")
        delta_z = pm.Normal("delta_z", 0.0, 1.0, dims="segment")
        sigma_u = pm.HalfNormal("sigma_dyad_z", 1.0, dims="segment")
        sigma_e = pm.HalfNormal("sigma_session_z", 1.0, dims="segment")
        z_u = pm.Normal("z_dyad", 0.0, 1.0, dims=("dyad", "segment"))
        mu = delta_z[seg_idx] + z_u[dyad_idx, seg_idx] * sigma_u[seg_idx]
        pm.Normal("d", mu=mu, sigma=sigma_e[seg_idx], observed=d_z, dims="obs")
        pm.Deterministic("delta", delta_z * scale, dims="segment")
    return model


@verbose
@fill_doc
def fit_chance_model(
    result,
    *,
    ci_prob=0.89,
    draws=1000,
    tune=1000,
    chains=2,
    sampler="nutpie",
    seed=None,
    verbose=None,
):
    """Estimate the group's synchrony above chance from a comparison with surrogates.

    The excess of each session over its surrogates, ``d = observed - sur_mean``,
    is modelled per segment type as ``d = delta + u_dyad + e`` (a dyad random
    intercept, non-centred; PyMC), and the posterior of ``delta`` and
    ``P(delta > 0)`` are reported. Segment types with fewer than three sessions
    get NaN and a warning.

    Parameters
    ----------
    result : xarray.Dataset
        The output of :func:`mne_dyad.surrogates.compare_with_surrogates`
        (``observed`` and ``sur_mean`` on ``dyad x session x segment``).
    ci_prob : float
        Probability mass of the equal-tailed interval of ``delta``.
    draws, tune, chains, sampler
        Sampling (see :func:`mne_dyad.stats.fit_alliance_model`).
    seed : None | int
        Seed of the sampler.
    %(verbose)s

    Returns
    -------
    result : xarray.Dataset
        A copy of ``result`` with, on ``segment``, ``delta_mean``, ``delta_sd``,
        ``delta_lower``, ``delta_upper`` and ``p_delta_gt_0``.

    See Also
    --------
    test_above_chance : Both steps in one call.
    """
    _validate_type(result, xr.Dataset, "result")
    missing = [v for v in ("observed", "sur_mean") if v not in result]
    if missing:
        raise ValueError(
            f"result has no {missing}: pass the output of "
            "mne_dyad.surrogates.compare_with_surrogates."
        )
    _check_sampling(draws, tune, chains, sampler)
    _validate_type(ci_prob, "numeric", "ci_prob")
    if not 0 < ci_prob < 1:
        raise ValueError(f"ci_prob must be between 0 and 1, got {ci_prob}.")
    out = result.copy()
    d = (out["observed"] - out["sur_mean"]).transpose("dyad", "session", "segment").values
    ok = np.isfinite(d)
    segments = list(out.segment.values)
    stats = {k: np.full(len(segments), np.nan) for k in _GROUP_VARIABLES}
    usable = [g for g in range(len(segments)) if ok[..., g].sum() >= 3]
    for g in sorted(set(range(len(segments))) - set(usable)):
        warn(f"Fewer than 3 sessions with a {segments[g]!r} value: no group estimate.")
    if usable:
        logger.info(f"Group model of the excess over chance for {len(usable)} segment type(s).")
        di, si, gi = np.nonzero(ok[..., usable])
        gi = np.asarray(usable)[gi]
        model = _group_model(d[di, si, gi], di, gi, out.dyad.values, segments)
        # a small dyad variance makes a funnel: take smaller steps
        tree = _sample(
            model,
            draws=draws,
            tune=tune,
            chains=chains,
            sampler=sampler,
            seed=seed,
            target_accept=0.95,
            cache_key=_structure_key(model, "chance"),
        )
        out.attrs["mne_dyad_diagnostics"] = json.dumps(_diagnose(tree, ("delta",), "chance model"))
        delta = tree["posterior"]["delta"]
        lower, upper = _interval(delta, ci_prob)
        for g in usable:
            stats["delta_mean"][g] = float(delta[..., g].mean())
            stats["delta_sd"][g] = float(delta[..., g].std(ddof=1))
            stats["delta_lower"][g], stats["delta_upper"][g] = lower[g], upper[g]
            stats["p_delta_gt_0"][g] = float((delta[..., g] > 0).mean())
    docs = {
        "delta_mean": "posterior mean of the group excess over chance",
        "delta_sd": "posterior SD of the group excess over chance",
        "delta_lower": f"lower end of the {ci_prob:.0%} equal-tailed interval of delta",
        "delta_upper": f"upper end of the {ci_prob:.0%} equal-tailed interval of delta",
        "p_delta_gt_0": "posterior probability that delta > 0",
    }
    for key, values in stats.items():
        out[key] = ("segment", values, {"long_name": docs[key]})
    out.attrs["ci_prob"] = ci_prob
    params = json.loads(out.attrs.get("mne_dyad_params", "{}"))
    params.update(
        group_model={
            "ci_prob": ci_prob,
            "draws": draws,
            "tune": tune,
            "chains": chains,
            "sampler": sampler,
            "seed": seed,
        }
    )
    out.attrs["mne_dyad_params"] = json.dumps(params, sort_keys=True, default=list)
    return out


@verbose
@fill_doc
def test_above_chance(
    sessions,
    *,
    method="wclc",
    summary=None,
    kind="pseudo_dyads",
    n_surrogates=100,
    segments=("IM", "CB"),
    roles=None,
    signal="raw",
    min_shift=None,
    shuffle_segment=None,
    ci_prob=0.89,
    draws=1000,
    tune=1000,
    chains=2,
    sampler="nutpie",
    seed=None,
    n_jobs=1,
    store_dir=None,
    verbose=None,
    **params,
):
    """Test whether synchrony exceeds chance, per session and for the group.

    For each session and segment label, the synchrony ``summary`` of the real
    dyad is compared with its distribution over ``n_surrogates`` surrogates
    (:func:`mne_dyad.surrogates.compare_with_surrogates`): ``ES = (real -
    mean_sur) / sd_sur`` and ``p = (1 + #{sur >= real}) / (1 + n_sur)``. At the
    group level ``d = observed - mean_sur`` is modelled per segment type as ``d =
    delta + u_dyad + e`` (:func:`fit_chance_model`), reporting the posterior of
    ``delta`` and ``P(delta > 0)``. ``mne_dyad.surrogates.test_above_chance`` is
    the same function.

    Parameters
    ----------
    %(sessions)s
    %(chance_options)s
    ci_prob : float
        Probability mass of the equal-tailed interval of ``delta``.
    draws, tune, chains, sampler
        Sampling of the group model (see :func:`mne_dyad.stats.fit_alliance_model`).
    %(seed)s
    %(n_jobs)s
    %(store_dir)s
    %(verbose)s
    **params
        Method parameters.

    Returns
    -------
    result : xarray.Dataset
        On ``dyad x session x segment``: ``observed`` (the real dyads), ``sur_mean``, ``sur_sd``,
        ``es``, ``p`` and ``surrogates`` (with a ``surrogate`` dim); on
        ``segment``: ``delta_mean``, ``delta_sd``, ``delta_lower``,
        ``delta_upper`` and ``p_delta_gt_0``.

    Examples
    --------
    >>> import mne_dyad as md
    >>> study = md.simulation.simulate_study(n_dyads=5, n_sessions=2, n_usable=8,
    ...                                      duration=600, seed=0)
    >>> res = md.stats.test_above_chance(study, n_surrogates=10, draws=200, tune=200,
    ...                                  sampler="pymc", seed=1, verbose="error")
    >>> float(res.p.min()) > 0, res.delta_mean.dims  # NaN cells: missing sessions
    (True, ('segment',))
    """
    _check_sampling(draws, tune, chains, sampler)
    _validate_type(seed, (None, "int-like", np.random.Generator), "seed")
    if isinstance(seed, np.random.Generator):
        seed = int(seed.integers(2**63))
    cells = compare_with_surrogates(
        sessions,
        method=method,
        summary=summary,
        kind=kind,
        n_surrogates=n_surrogates,
        segments=segments,
        roles=roles,
        signal=signal,
        min_shift=min_shift,
        shuffle_segment=shuffle_segment,
        seed=seed,
        n_jobs=n_jobs,
        store_dir=store_dir,
        **params,
    )
    return fit_chance_model(
        cells, ci_prob=ci_prob, draws=draws, tune=tune, chains=chains, sampler=sampler, seed=seed
    )


test_above_chance.__test__ = False  # not a pytest test
