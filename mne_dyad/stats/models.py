"""Bayesian multilevel model of alliance on within/between-dyad synchrony."""

import numpy as np
import xarray as xr
from mne.utils import _validate_type, logger, verbose

from .._version import __version__
from ..utils._checks import _check_positive
from ..utils._docs import fill_doc
from ..utils._imports import _soft_import
from ._sampling import check_sampling, diagnose, sample
from .results import AllianceFit

LEVELS = ("within", "between")


def _check_ids(cube, alliance):
    for name, ds in (("cube", cube), ("alliance", alliance)):
        for dim in ("dyad", "session"):
            if dim not in ds.dims:
                raise ValueError(f"The {name} has no {dim!r} dimension (dims: {dict(ds.sizes)}).")
    dyads = [d for d in cube.dyad.values if d in set(alliance.dyad.values)]
    sessions = [s for s in cube.session.values if s in set(alliance.session.values)]
    if not dyads or not sessions:
        raise ValueError(
            "The cube and the alliance data share no (dyad, session): cube dyads "
            f"{list(cube.dyad.values)[:5]}..., alliance dyads "
            f"{list(alliance.dyad.values)[:5]}...; check that both use the same ids."
        )
    return dyads, sessions


def prepare_alliance_data(
    cube,
    alliance,
    *,
    summary="all_lags",
    segments=("IM", "CB"),
    outcomes=("bond", "task", "goal"),
    standardize=True,
):
    """Long-format model data: complete cases, standardised, within/between split.

    Returns an ``xarray.Dataset`` on ``obs`` with ``X`` (obs, level, segment),
    ``y`` (obs, outcome), ``session_c`` (obs), ``dyad_idx`` and the transform in
    ``x_mean``/``x_sd`` (segment), ``y_mean``/``y_sd`` (outcome),
    ``session_mean``/``session_sd``.
    """
    if summary not in cube.data_vars:
        raise ValueError(f"The cube has no summary {summary!r}; it has {sorted(cube.data_vars)}.")
    missing_seg = [s for s in segments if s not in list(cube.segment.values)]
    if missing_seg:
        raise ValueError(
            f"The cube has no segment(s) {missing_seg}; it has {list(cube.segment.values)}."
        )
    missing_out = [o for o in outcomes if o not in alliance.data_vars]
    if missing_out:
        raise ValueError(
            f"The alliance data has no scale(s) {missing_out}; it has "
            f"{sorted(alliance.data_vars)}. Pass outcomes= with the scales you have."
        )
    dyads, sessions = _check_ids(cube, alliance)
    P = cube[summary].sel(dyad=dyads, session=sessions, segment=list(segments))
    Y = alliance[list(outcomes)].sel(dyad=dyads, session=sessions).to_dataarray("outcome")
    Y = Y.transpose("dyad", "session", "outcome")
    p_ok = np.isfinite(P.values).all(axis=-1)
    y_ok = np.isfinite(Y.values).all(axis=-1)
    for k, seg in enumerate(segments):
        if not np.isfinite(P.values[..., k]).any():
            raise ValueError(
                f"No session has a {seg!r} {summary} value: every session lacks this "
                "segment. Drop it from segments=."
            )
    ok = p_ok & y_ok
    n_any = int((np.isfinite(P.values).any(-1) | np.isfinite(Y.values).any(-1)).sum())
    logger.info(
        f"Alliance model data: {int(ok.sum())} complete (dyad, session) of {n_any} with "
        f"any data; dropped {int((y_ok & ~p_ok).sum())} lacking synchrony in a segment "
        f"of {list(segments)} and {int((p_ok & ~y_ok).sum())} lacking an alliance scale."
    )
    di, si = np.nonzero(ok)
    used_dyads = sorted(set(di))
    if len(used_dyads) < 3:
        raise ValueError(
            f"Only {len(used_dyads)} dyad(s) have complete data (synchrony in all of "
            f"{list(segments)} and every scale of {list(outcomes)}); a multilevel model "
            "needs at least 3 dyads."
        )
    p = P.values[di, si]  # (obs, segment)
    y = Y.values[di, si]  # (obs, outcome)
    sess = np.asarray(sessions, float)[si]
    if standardize:
        x_mean, x_sd = p.mean(0), p.std(0, ddof=1)
        y_mean, y_sd = y.mean(0), y.std(0, ddof=1)
    else:
        x_mean, x_sd = np.zeros(p.shape[1]), np.ones(p.shape[1])
        y_mean, y_sd = np.zeros(y.shape[1]), np.ones(y.shape[1])
    for sd, names, what in ((x_sd, segments, "synchrony"), (y_sd, outcomes, "scale")):
        flat = [n for n, v in zip(names, sd, strict=True) if not v > 0]
        if flat:
            raise ValueError(f"The {what} {flat} does not vary across sessions: cannot model it.")
    s_mean, s_sd = sess.mean(), sess.std(ddof=1) if sess.std() > 0 else 1.0
    pz = (p - x_mean) / x_sd
    remap = {d: k for k, d in enumerate(used_dyads)}
    dyad_idx = np.array([remap[d] for d in di])
    dyad_mean = np.zeros((len(used_dyads), pz.shape[1]))
    np.add.at(dyad_mean, dyad_idx, pz)
    dyad_mean /= np.bincount(dyad_idx)[:, None]
    within = pz - dyad_mean[dyad_idx]
    between = dyad_mean[dyad_idx] - pz.mean(0)
    dyad_labels = np.array([dyads[d] for d in used_dyads], dtype=object)
    return xr.Dataset(
        {
            "X": (("obs", "level", "segment"), np.stack([within, between], axis=1)),
            "y": (("obs", "outcome"), (y - y_mean) / y_sd),
            "session_c": ("obs", (sess - s_mean) / s_sd),
            "dyad_idx": ("obs", dyad_idx),
            "x_mean": ("segment", x_mean),
            "x_sd": ("segment", x_sd),
            "y_mean": ("outcome", y_mean),
            "y_sd": ("outcome", y_sd),
            "session_mean": s_mean,
            "session_sd": s_sd,
        },
        coords={
            "obs": np.arange(len(di)),
            "obs_dyad": ("obs", np.array([dyads[d] for d in di], dtype=object)),
            "obs_session": ("obs", np.asarray(sessions)[si]),
            "level": np.array(LEVELS, dtype=object),
            "segment": np.array(segments, dtype=object),
            "outcome": np.array(outcomes, dtype=object),
            "dyad": dyad_labels,
        },
        attrs={"summary": summary, "standardize": int(standardize)},
    )


def build_alliance_model(data, *, session_covariate=True, prior_sd=1.0, lkj_eta=2.0):
    """Build the PyMC model of METHODS.md section 7 for prepared data.

    ``y[obs, o] = alpha[o] + sum_{l, g} beta[l, g, o] X[obs, l, g]
    + gamma[o] session[obs] + u[dyad, o] + e[obs, o]`` with ``u`` and ``e``
    multivariate normal across outcomes (LKJ priors), ``u`` non-centred.
    """
    pm = _soft_import("pymc", "The alliance model")
    coords = {k: data[k].values for k in ("obs", "level", "segment", "outcome", "dyad")}
    n_out = data.sizes["outcome"]
    with pm.Model(coords=coords) as model:
        X = pm.Data("X", data["X"].values, dims=("obs", "level", "segment"))
        sess = pm.Data("session_c", data["session_c"].values, dims="obs")
        dyad_idx = pm.Data("dyad_idx", data["dyad_idx"].values, dims="obs")
        alpha = pm.Normal("alpha", 0.0, prior_sd, dims="outcome")
        beta = pm.Normal("beta", 0.0, prior_sd, dims=("level", "segment", "outcome"))
        mu = alpha + (X[:, :, :, None] * beta[None]).sum(axis=(1, 2))
        if session_covariate:
            gamma = pm.Normal("gamma", 0.0, prior_sd, dims="outcome")
            mu = mu + sess[:, None] * gamma
        chol_u, _, _ = pm.LKJCholeskyCov(
            "chol_dyad",
            n=n_out,
            eta=lkj_eta,
            sd_dist=pm.HalfNormal.dist(prior_sd, shape=n_out),
            compute_corr=True,
        )
        z_u = pm.Normal("z_dyad", 0.0, 1.0, dims=("dyad", "outcome"))
        u = pm.Deterministic("u_dyad", z_u @ chol_u.T, dims=("dyad", "outcome"))
        chol_e, _, _ = pm.LKJCholeskyCov(
            "chol_resid",
            n=n_out,
            eta=lkj_eta,
            sd_dist=pm.HalfNormal.dist(prior_sd, shape=n_out),
            compute_corr=True,
        )
        pm.MvNormal(
            "y",
            mu=mu + u[dyad_idx],
            chol=chol_e,
            observed=data["y"].values,
            dims=("obs", "outcome"),
        )
    return model


@verbose
@fill_doc
def fit_alliance_model(
    cube,
    alliance,
    *,
    summary="all_lags",
    segments=("IM", "CB"),
    outcomes=("bond", "task", "goal"),
    session_covariate=True,
    standardize=True,
    prior_sd=1.0,
    draws=1000,
    tune=1000,
    chains=2,
    sampler="nutpie",
    seed=None,
    verbose=None,
):
    """Fit the multivariate multilevel model of alliance on synchrony.

    For each dyad ``d``, session ``s`` and outcome ``o`` (METHODS.md section 7)::

        y[d,s,o] = alpha[o]
                   + sum_g beta[within, g, o] * P_w[d,s,g] + beta[between, g, o] * P_b[d,g]
                   + gamma[o] * session[d,s] + u[d,o] + e[d,s,o]

    where ``g`` runs over the segment types, ``P_w`` is a session's synchrony
    minus its dyad's mean and ``P_b`` the dyad mean minus the grand mean. The
    dyad effects ``u`` and residuals ``e`` are multivariate normal across
    outcomes with LKJ(2) priors on their correlations and half-normal SDs; ``u``
    is non-centred. Sessions lacking a segment or a scale are dropped (the count
    is logged).

    Parameters
    ----------
    cube : xarray.Dataset
        A synchrony cube (:func:`mne_dyad.synchrony_cube`).
    alliance : xarray.Dataset
        Alliance scales on ``dyad x session`` (:func:`mne_dyad.alliance.read_sai`).
    %(summary)s
    segments : sequence of str
        Segment types entering as predictors.
    outcomes : sequence of str
        Alliance scales modelled jointly.
    session_covariate : bool
        Include the session number (standardised) as covariate.
    standardize : bool
        Standardise predictors (per segment, before the within/between split)
        and outcomes, so betas are in SD units; the transform is stored.
    prior_sd : float
        SD of the normal priors on alpha, beta, gamma and of the half-normal
        priors on the dyad and residual SDs.
    draws, tune, chains : int
        Posterior draws and tuning steps per chain, and the number of chains.
    sampler : str
        ``"nutpie"`` (default, compiled with numba, chains in parallel threads) or
        ``"pymc"`` (PyMC's NUTS, chains one after another).
    %(seed)s
    %(verbose)s

    Returns
    -------
    fit : AllianceFit
        Posterior (``fit.posterior``, an :class:`xarray.DataTree`), the model data
        and the standardisation; see :meth:`AllianceFit.summary`.
    """
    _validate_type(cube, xr.Dataset, "cube")
    _validate_type(alliance, xr.Dataset, "alliance")
    check_sampling(draws, tune, chains, sampler)
    prior_sd = _check_positive(prior_sd, "prior_sd")
    segments = tuple(segments)
    outcomes = tuple(outcomes)
    data = prepare_alliance_data(
        cube,
        alliance,
        summary=summary,
        segments=segments,
        outcomes=outcomes,
        standardize=standardize,
    )
    model = build_alliance_model(data, session_covariate=session_covariate, prior_sd=prior_sd)
    logger.info(
        f"Sampling the alliance model ({data.sizes['obs']} sessions, "
        f"{data.sizes['dyad']} dyads, outcomes {list(outcomes)}) with {sampler}: "
        f"{chains} chains x {draws} draws after {tune} tuning steps."
    )
    tree = sample(model, draws=draws, tune=tune, chains=chains, sampler=sampler, seed=seed)
    diagnostics = diagnose(tree, ("beta", "alpha"), "alliance model")
    params = {
        "summary": summary,
        "segments": list(segments),
        "outcomes": list(outcomes),
        "session_covariate": session_covariate,
        "standardize": standardize,
        "prior_sd": prior_sd,
        "draws": draws,
        "tune": tune,
        "chains": chains,
        "sampler": sampler,
        "seed": seed,
        "cube_params": cube.attrs.get("mne_dyad_params"),
        "mne_dyad_version": __version__,
    }
    logger.info(
        f"Done: {diagnostics['divergences']} divergences, max R-hat "
        f"{diagnostics['max_rhat']:.3f}, min bulk ESS {diagnostics['min_ess_bulk']:.0f}."
    )
    return AllianceFit(tree, data, params=params, diagnostics=diagnostics)
