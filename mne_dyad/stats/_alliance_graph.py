"""The PyMC graph of the alliance model, built from prepared data.

:func:`mne_dyad.stats.fit_alliance_model` prepares the data and samples this model;
:class:`mne_dyad.stats.AllianceFit` rebuilds it from a saved fit (posterior
predictive checks, LOO). Both import it from here, so neither imports the other.
"""

import hashlib

import numpy as np
from mne.utils import _validate_type

from ..utils._imports import _soft_import
from ._centering import _dyad_operators, _levels
from ._sampling import _LOW_RANK_MAX_DIM, _observed_data, _sample

#: Default prior scales (on standardised data): normal SDs of alpha, beta, gamma;
#: half-normal SDs of every variance component; the LKJ shape.
_DEFAULT_PRIORS = {"alpha": 1.0, "beta": 1.0, "gamma": 1.0, "sigma": 1.0, "lkj_eta": 2.0}


def _check_priors(priors):
    _validate_type(priors, (None, dict), "priors")
    out = dict(_DEFAULT_PRIORS)
    if priors:
        unknown = sorted(set(priors) - set(_DEFAULT_PRIORS))
        if unknown:
            raise ValueError(f"Unknown prior(s) {unknown}; set any of {sorted(_DEFAULT_PRIORS)}.")
        for key, value in priors.items():
            if not (isinstance(value, (int, float)) and np.isfinite(value) and value > 0):
                raise ValueError(f"Prior {key!r} must be a positive number, got {value!r}.")
        out.update({k: float(v) for k, v in priors.items()})
    return out


def _latent_values(pm, pt, data, center, spread):
    """Synchrony values around ``center`` (obs, seg) with SD ``spread`` (seg); (obs, seg).

    With ``P_se`` every value is latent (``P_true``) and observed with its standard
    error; otherwise the observed values are data drawn around ``center`` and the
    missing ones are parameters (``z_P_missing``).
    """
    P = data["P"].values
    observed = np.isfinite(P)
    obs_i, seg_i = np.nonzero(observed)
    if "P_se" in data:  # every value latent, observed with its standard error
        # centred: the window-based errors are small next to the spread of synchrony,
        # so the data pin each latent value down (a non-centred form mixes badly)
        values = pm.Normal("P_true", center, spread, dims=("obs", "segment"))
        pm.Normal(
            "P_obs",
            mu=values[obs_i, seg_i],
            sigma=data["P_se"].values[obs_i, seg_i],
            observed=P[obs_i, seg_i],
        )
        return values
    pm.Normal("P_obs", mu=center[obs_i, seg_i], sigma=spread[seg_i], observed=P[obs_i, seg_i])
    values = pt.as_tensor(np.nan_to_num(P))
    miss_i, miss_g = np.nonzero(~observed)
    if miss_i.size:  # missing values are parameters
        z_miss = pm.Normal("z_P_missing", 0.0, 1.0, shape=miss_i.size)
        values = pt.set_subtensor(
            values[miss_i, miss_g], center[miss_i, miss_g] + z_miss * spread[miss_g]
        )
    return values


def _latent_predictor(pm, pt, data, priors):
    """Latent synchrony for measurement error and/or imputation; returns P (obs, seg).

    The values share one normal distribution per segment (``mu_P``, ``sd_P``).
    """
    mu_p = pm.Normal("mu_P", 0.0, 1.0, dims="segment")
    sd_p = pm.HalfNormal("sd_P", priors["sigma"], dims="segment")
    center = pt.broadcast_to(mu_p, data["P"].shape)
    return _latent_values(pm, pt, data, center, sd_p)


def _dyad_sum(pt, values, dyad_idx, n_dyads):
    """Sum ``values`` (obs, k) over each dyad's rows; returns (dyad, k)."""
    return pt.inc_subtensor(pt.zeros((n_dyads, values.shape[1]))[dyad_idx], values)


def _latent_mean_parts(data, session=None):
    """Return the data-only pieces of :func:`_latent_centred` (numpy).

    ``observed`` (obs, seg: bool); ``values`` (obs, seg: synchrony, 0 where
    missing); ``se2`` (obs, seg: squared standard errors, 0 where missing; None
    without ``P_se``); ``offset`` (obs, seg: with ``session``, the session minus the
    mean session of its dyad's observed values of that segment, for dyads whose
    trend is fitted, else 0) and ``fitted`` (dyad, seg: whether it is, as in
    :func:`mne_dyad.stats._centering._dyad_operators`: 3 or more observed values
    over more than one session number).
    """
    P = data["P"].values
    dyad_np = data["dyad_idx"].values
    n_dyads = data.sizes["dyad"]
    observed = np.isfinite(P)
    values = np.where(observed, P, 0.0)
    offset = np.zeros(P.shape)
    fitted = np.zeros((n_dyads, P.shape[1]), dtype=bool)
    if session is not None:
        for g in range(P.shape[1]):
            rows = np.flatnonzero(observed[:, g])
            _, slope_w, off = _dyad_operators(dyad_np[rows], n_dyads, session[rows])
            fitted[:, g] = np.abs(slope_w).sum(axis=1) > 0
            offset[rows, g] = np.where(fitted[dyad_np[rows], g], off, 0.0)
    se2 = np.where(observed, data["P_se"].values, 0.0) ** 2 if "P_se" in data else None
    return observed, values, se2, offset, fitted


def _latent_centred(pm, pt, data, priors, dyad_idx, session=None):
    """Within/between parts of synchrony split at latent dyad means; returns X (obs, 2, seg).

    ``P[d, s, g] = m[d, g] + b[d, g] o[d, s, g] + w[d, s, g] (+ e)`` with ``m ~
    N(mu_P, tau_P)``, ``w ~ N(0, sigma_P_within)``, with ``P_se`` a measurement
    error ``e ~ N(0, P_se)``, and with ``session`` (detrending) a trend ``b`` with
    a flat prior over the centred session offsets ``o`` of dyads with 3 or more
    values (``b = 0`` for the others). The dyad means and trends are integrated
    out: synchrony enters through its exact marginal likelihood given ``mu_P``,
    ``tau_P`` and ``sigma_P_within`` (the potential ``P_marginal``; with trends the
    restricted likelihood), and the split uses the expectations given each dyad's
    observed values (regression calibration): ``between = E[m | P] - mu_P`` and
    ``within = E[w | P] = kappa (P - E[m | P] - E[b | P] o)`` with ``kappa =
    sigma_P_within^2 / (sigma_P_within^2 + P_se^2)``. Without a trend, ``E[m | P] -
    mu_P = lambda (xbar - mu_P)``, ``xbar`` the precision-weighted mean and
    ``lambda = tau^2 W / (1 + tau^2 W)`` the reliability of the dyad's mean (``W``
    the summed precisions ``1 / (sigma_P_within^2 + P_se^2)``). A missing value's
    within part is a parameter, ``sigma_P_within * z_P_missing``. ``P_dyad`` holds
    ``E[m | P]``. The data are ``pm.Data`` (``P_values``, ``P_mask``, ``P_se2``,
    ``P_offset``, ``P_fitted``); which values are missing is built into the graph.
    """
    observed, values, se2, offset, fitted = _latent_mean_parts(data, session)
    n_dyads = fitted.shape[0]
    vals = pm.Data("P_values", values, dims=("obs", "segment"))
    mask = pm.Data("P_mask", observed.astype(float), dims=("obs", "segment"))

    def dyad_sum(a):  # (obs, seg) -> (dyad, seg)
        return _dyad_sum(pt, a, dyad_idx, n_dyads)

    mu_p = pm.Normal("mu_P", 0.0, 1.0, dims="segment")
    tau_p = pm.HalfNormal("tau_P", priors["sigma"], dims="segment")
    sigma_w = pm.HalfNormal("sigma_P_within", priors["sigma"], dims="segment")
    var_w = sigma_w**2
    if se2 is not None:
        var = var_w + pm.Data("P_se2", se2, dims=("obs", "segment"))
    else:
        var = pt.broadcast_to(var_w, values.shape)
    prec = mask / var  # 0 where missing
    dev = vals - mu_p
    t2 = tau_p**2
    W, h1 = dyad_sum(prec), dyad_sum(prec * dev)
    if session is not None:  # the joint (mean, trend) of each fitted dyad
        off = pm.Data("P_offset", offset, dims=("obs", "segment"))
        has_trend = pm.Data("P_fitted", fitted.astype(float), dims=("dyad", "segment"))
        S1, h2 = dyad_sum(prec * off), dyad_sum(prec * off * dev)
        S2 = pt.switch(has_trend > 0, dyad_sum(prec * off**2), 1.0)
    else:
        off, S1, h2, S2 = 0.0, 0.0, 0.0, 1.0
    # with A = [[1/tau^2 + W, S1], [S1, S2]] and h = (h1, h2): E[(m - mu, b)] = A^-1 h,
    # log density -1/2 [sum log v + sum dev^2 / v - h' A^-1 h + log(tau^2 det A)];
    # everything is multiplied through by tau^2 so that tau -> 0 stays finite
    det = (1.0 + t2 * W) * S2 - t2 * S1**2
    quad = (t2 * S2 * h1**2 - 2.0 * t2 * S1 * h1 * h2 + (1.0 + t2 * W) * h2**2) / det
    logp = -0.5 * ((mask * (pt.log(var) + dev**2 / var)).sum() - quad.sum() + pt.log(det).sum())
    pm.Potential("P_marginal", logp)
    between = t2 * (S2 * h1 - S1 * h2) / det  # E[m | P] - mu_P; 0 for a dyad without values
    trend = (-t2 * S1 * h1 + (1.0 + t2 * W) * h2) / det  # E[b | P]
    pm.Deterministic("P_dyad", mu_p + between, dims=("dyad", "segment"))
    kappa = var_w / var if se2 is not None else 1.0
    within = kappa * (dev - between[dyad_idx] - trend[dyad_idx] * off)
    miss_i, miss_g = np.nonzero(~observed)
    if miss_i.size:  # a missing value's deviation from its dyad's mean is unknown
        z_miss = pm.Normal("z_P_missing", 0.0, 1.0, shape=miss_i.size)
        within = pt.set_subtensor(within[miss_i, miss_g], z_miss * sigma_w[miss_g])
    return pt.stack([within, between[dyad_idx]], axis=1)


def _lkj(pm, name, n, priors):
    """Return the LKJ Cholesky factor of ``n`` correlated effects and their SDs."""
    chol, _, stds = pm.LKJCholeskyCov(
        name,
        n=n,
        eta=priors["lkj_eta"],
        sd_dist=pm.HalfNormal.dist(priors["sigma"], shape=n),
        compute_corr=True,
    )
    return chol, stds


def _lkj_corr_sds(pm, name, n, priors, *, size=None, dims=None):
    """Return ``diag(sds) @ L`` for an LKJ correlation Cholesky ``L`` and half-normal SDs.

    The same prior as :func:`_lkj`, sampled on the correlations' Cholesky factor
    (``<name>_cholcorr``; ``<name>_corr`` holds the correlations) and the log SDs
    (``<name>_stds``) instead of the covariance's Cholesky factor, whose
    off-diagonal entries must shrink with their row's SD: a funnel when an SD is
    near zero, as the dyads' slope SDs are (twice the leapfrog steps, stuck chains).
    ``size``: that many independent factors along a leading axis (one set of
    variables and one graph for all of them, not one per factor); ``dims``: the
    dims of the SDs (the factors' are those plus a column dim, ``<last>_col``,
    added to the model with the last dim's labels).

    PyMC before 6.4 gave ``LKJCorr`` a density without the Jacobian from the
    Cholesky factor to the correlations (a wrong prior in this form), so mne-dyad
    needs PyMC 6.4 or later, now that random slopes are the default.
    """
    transforms = _soft_import("pymc.distributions.transforms", "The alliance model")

    class _CorrCholesky(transforms.CholeskyCorrTransform):
        # PyMC strips the last "_"-part of a transform's name to find the variable's
        # (compute_log_likelihood): no underscore in the name
        name = "corrcholesky"

    matrix_dims = None
    if dims is not None:
        matrix_dims = (*dims, f"{dims[-1]}_col")
        model = pm.modelcontext(None)
        model.add_coord(matrix_dims[-1], model.coords[dims[-1]])
    chol_corr = pm.LKJCorr(
        f"{name}_cholcorr",
        n=n,
        eta=priors["lkj_eta"],
        size=size,
        dims=matrix_dims,
        default_transform=_CorrCholesky(n=n),
    )
    # as _lkj's
    corr = chol_corr @ chol_corr.swapaxes(-1, -2)
    pm.Deterministic(f"{name}_corr", corr, dims=matrix_dims)
    shape = (n,) if size is None else (size, n)
    stds = pm.HalfNormal(f"{name}_stds", priors["sigma"], shape=shape, dims=dims)
    # the covariance's factor
    chol = pm.Deterministic(name, stds[..., :, None] * chol_corr, dims=matrix_dims)
    return chol, stds


def _outcome_scales(pm, pt, name, n_out, multivariate, priors):
    """Add the prior of an across-outcome covariance's Cholesky factor; (chol, sds).

    ``multivariate``: LKJ (``chol_<name>``, :func:`_lkj`); otherwise independent
    half-normal SDs (``sigma_<name>``, chol their diagonal). The full and the
    integrated alliance models both take their dyad and residual priors from here,
    so the two are one posterior.
    """
    if multivariate:
        return _lkj(pm, f"chol_{name}", n_out, priors)
    sds = pm.HalfNormal(f"sigma_{name}", priors["sigma"], dims="outcome")
    return pt.diag(sds), sds


def _dyad_effects(pm, pt, model, priors, multivariate, random_slopes):
    """Add the dyad intercepts and, with ``random_slopes``, the dyads' within slopes.

    Returns ``u_dyad`` (dyad, outcome) and ``slope_dyad`` (dyad, segment, outcome;
    None without slopes), all non-centred.

    Without slopes: intercepts correlated across outcomes by an LKJ prior
    (``chol_dyad``), or independent (``sigma_dyad``). With slopes, each outcome's
    intercept and its slopes on the segment types are correlated through their own
    LKJ (``chol_dyad_block``, dims ``outcome, dyad_term, dyad_term_col``: the
    Cholesky factor of each outcome's block), in the multivariate model too:
    one LKJ over all outcomes' intercepts and slopes (9 x 9 for three scales and
    two segment types, 31 dyads) mixed badly (bulk ESS 6-12 of 2000 for slope SDs
    and correlations, R-hat up to 1.27), the blocks mix well (ESS >= 150). The
    outcomes stay correlated through the residuals. ``sigma_slope`` (segment,
    outcome) holds the slopes' SDs.
    """
    outcomes, segments = model.coords["outcome"], model.coords["segment"]
    n_out, n_seg = len(outcomes), len(segments)
    if not random_slopes:
        z_u = pm.Normal("z_dyad", 0.0, 1.0, dims=("dyad", "outcome"))
        chol_u, sd_u = _outcome_scales(pm, pt, "dyad", n_out, multivariate, priors)
        u = z_u @ chol_u.T if multivariate else z_u * sd_u
        return pm.Deterministic("u_dyad", u, dims=("dyad", "outcome")), None
    per = 1 + n_seg  # an outcome's intercept, then its slope on each segment type
    terms = ["intercept", *segments]
    model.add_coord("dyad_effect", [f"{o}: {e}" for o in outcomes for e in terms])
    model.add_coord("dyad_term", terms)
    z = pm.Normal("z_dyad", 0.0, 1.0, dims=("dyad", "dyad_effect"))
    # one block per outcome, whether multivariate or not, all in one batched graph
    # (one graph per outcome: 415 operations in the default model's gradient, not 279)
    chol, stds = _lkj_corr_sds(
        pm, "chol_dyad_block", per, priors, size=n_out, dims=("outcome", "dyad_term")
    )
    # effects[d, k, i] = sum_j z[d, k, j] chol[k, i, j]: each block's z @ chol_k.T
    effects = (z.reshape((z.shape[0], n_out, per))[:, :, None, :] * chol[None]).sum(-1)
    u = pm.Deterministic("u_dyad", effects[:, :, 0], dims=("dyad", "outcome"))
    slope = pm.Deterministic(
        "slope_dyad", effects[:, :, 1:].transpose(0, 2, 1), dims=("dyad", "segment", "outcome")
    )
    pm.Deterministic("sigma_slope", stds[:, 1:].T, dims=("segment", "outcome"))
    return u, slope


#: Values of fit_alliance_model's likelihood=.
_LIKELIHOODS = ("normal", "student_t")


def _masked_outcomes(pm, pt, mu, chol, nu, y_obs, observed):
    """Add ``y`` for outcomes with missing entries: each session's marginal density.

    A session rated on a subset ``O`` of the scales contributes the density of
    ``y[O]`` under ``N(mu[O], Sigma[O, O])`` (or the multivariate t with the same
    scale), ``Sigma = chol chol'``: the missing scales are integrated out, so the
    session stays in the likelihood and its pointwise log-likelihood is defined
    for LOO. Replicated data (posterior predictive) fill every scale.
    """
    patterns, which = np.unique(observed, axis=0, return_inverse=True)
    groups = [(np.flatnonzero(which == k), np.flatnonzero(pat)) for k, pat in enumerate(patterns)]
    n_obs = observed.shape[0]

    def logp(value, mu, chol, *nu_arg):
        # the parameters may arrive broadcast over the sessions: all rows are equal
        while chol.ndim > 2:
            chol = chol[0]
        nu_arg = tuple(v.flatten()[0] for v in nu_arg)
        sigma = chol @ chol.T
        out = pt.zeros(n_obs)
        for rows, cols in groups:
            k = cols.size
            sub = pt.linalg.cholesky(sigma[cols][:, cols])
            diff = value[rows][:, cols] - mu[rows][:, cols]
            z = pt.linalg.solve_triangular(sub, diff.T, lower=True)
            quad = (z**2).sum(axis=0)
            logdet = 2.0 * pt.log(pt.diagonal(sub)).sum()
            if nu_arg:
                (df,) = nu_arg
                part = (
                    pt.gammaln((df + k) / 2.0)
                    - pt.gammaln(df / 2.0)
                    - 0.5 * k * pt.log(df * np.pi)
                    - 0.5 * logdet
                    - 0.5 * (df + k) * pt.log1p(quad / df)
                )
            else:
                part = -0.5 * (k * np.log(2 * np.pi) + logdet + quad)
            out = pt.set_subtensor(out[rows], part)
        return out

    def random(mu, chol, *nu_arg, rng=None, size=None):
        mu = np.asarray(mu)
        batch = tuple(size) if size is not None else mu.shape[:-1]
        mu = np.broadcast_to(mu, (*batch, mu.shape[-1]))
        draws = np.einsum("...ij,...j->...i", np.asarray(chol), rng.standard_normal(mu.shape))
        if nu_arg:  # multivariate t: a normal over the root of a scaled chi-square
            df = np.broadcast_to(np.asarray(nu_arg[0]), batch)
            draws = draws / np.sqrt(rng.chisquare(df) / df)[..., None]
        return mu + draws

    params = (mu, chol) if nu is None else (mu, chol, nu)
    signature = "(n),(n,n)->(n)" if nu is None else "(n),(n,n),()->(n)"
    return pm.CustomDist(
        "y",
        *params,
        logp=logp,
        random=random,
        signature=signature,
        observed=y_obs,
        dims=("obs", "outcome"),
    )


def _likelihood(pm, data, mu, y_obs, multivariate, likelihood, priors):
    """Add the likelihood of the outcomes ``y`` around ``mu`` (obs, outcome).

    Normal or Student-t residuals (``nu ~ Gamma(2, 0.1)``, shared by the
    outcomes), correlated across outcomes through an LKJ Cholesky factor
    (``chol_resid``) or independent (``sigma_resid``). With ``y_ceiling`` in the
    data (standardised, NaN for an outcome without one), values at the ceiling
    are right-censored: they say only that the outcome was at least that high.
    """
    pt = _soft_import("pytensor.tensor", "The alliance model")
    dims = ("obs", "outcome")
    nu = pm.Gamma("nu", alpha=2.0, beta=0.1) if likelihood == "student_t" else None
    observed = np.isfinite(data["y"].values)
    if not observed.all():  # sessions rated on only some scales: marginal densities
        if "y_ceiling" in data:
            raise ValueError("Censoring at a ceiling needs every scale of a session.")
        chol_e, _ = _outcome_scales(pm, pt, "resid", data.sizes["outcome"], multivariate, priors)
        return _masked_outcomes(pm, pt, mu, chol_e, nu, y_obs, observed)
    if multivariate:
        if "y_ceiling" in data:
            raise ValueError("Censoring at a ceiling needs multivariate=False.")
        chol_e, _ = _outcome_scales(pm, pt, "resid", data.sizes["outcome"], True, priors)
        if nu is None:
            return pm.MvNormal("y", mu=mu, chol=chol_e, observed=y_obs, dims=dims)
        return pm.MvStudentT("y", nu=nu, mu=mu, chol=chol_e, observed=y_obs, dims=dims)
    _, sigma_e = _outcome_scales(pm, pt, "resid", data.sizes["outcome"], False, priors)
    if nu is None:
        dist = pm.Normal.dist(mu=mu, sigma=sigma_e)
    else:
        dist = pm.StudentT.dist(nu=nu, mu=mu, sigma=sigma_e)
    if "y_ceiling" in data:
        upper = np.where(np.isfinite(data["y_ceiling"].values), data["y_ceiling"].values, np.inf)
        return pm.Censored("y", dist, lower=-np.inf, upper=upper, observed=y_obs, dims=dims)
    if nu is None:
        return pm.Normal("y", mu=mu, sigma=sigma_e, observed=y_obs, dims=dims)
    return pm.StudentT("y", nu=nu, mu=mu, sigma=sigma_e, observed=y_obs, dims=dims)


def _n_unconstrained(model):
    """Return the number of unconstrained parameters a sampler sees in ``model``."""
    shapes = model.eval_rv_shapes()
    return int(sum(np.prod(shapes[v.name]) for v in model.value_vars))


def _can_integrate_dyads(data, options):
    """Whether the dyad intercepts can be integrated out of the alliance model exactly.

    They can when they are the model's only dyad-level random effects and enter a
    normal likelihood whose every scale is observed: no random slopes, dyad trends,
    lagged outcome (which uses the dyad's level), Student-t or censored residuals,
    or unrated scales. A therapist level is part of the mean, given which the dyads'
    intercepts stay independent: it may stay.
    """
    return not (
        options["random_slopes"]
        or options["dyad_trends"]
        or options["likelihood"] != "normal"
        or "y_ceiling" in data
        or "y_lag" in data
        or bool(np.isnan(data["y"].values).any())
    )


def _small_chol_terms(pt, entry, vectors):
    """``log|C|`` and ``v' C^-1 v`` for a batch of small SPD matrices, element-wise.

    ``entry(i, j)`` returns the batch of ``C[i, j]`` (``i >= j``), ``vectors`` the
    ``k`` batches of ``v``'s entries. The Cholesky factor and the forward solve are
    written out entry by entry (``k`` is the number of outcomes, a handful), so
    every operation is an element-wise one over the batch.
    """
    k = len(vectors)
    chol = [[None] * k for _ in range(k)]
    for i in range(k):
        for j in range(i + 1):
            rest = entry(i, j)
            for m in range(j):
                rest = rest - chol[i][m] * chol[j][m]
            chol[i][j] = pt.sqrt(rest) if i == j else rest / chol[j][j]
    z = []
    for i in range(k):
        rest = vectors[i]
        for m in range(i):
            rest = rest - chol[i][m] * z[m]
        z.append(rest / chol[i][i])
    logdet = 2.0 * sum(pt.log(chol[i][i]) for i in range(k))
    quad = sum(zi**2 for zi in z)
    return logdet, quad


def _integrated_likelihood(pm, pt, data, mu, y_obs, dyad_idx, multivariate, priors):
    """Add the outcomes' likelihood with the dyad intercepts ``u`` integrated out.

    With ``r[d, s] = y[d, s] - mu[d, s]`` (outcome vectors), ``u[d] ~ N(0, S_u)`` and
    ``e ~ N(0, S_e)``, a dyad's ``n`` sessions are jointly normal with covariance
    ``I_n x S_e + J_n x S_u``. In orthonormal contrasts over its sessions that is
    ``sqrt(n) rbar[d] ~ N(0, S_e + n S_u)`` for the mean and ``N(0, S_e)`` for each
    of the ``n - 1`` contrasts, so the log density is (up to a constant)::

        -1/2 [(N - D) log|S_e| + sum_ds (r - rbar)' S_e^-1 (r - rbar)]
        -1/2 sum_d [log|S_e / n_d + S_u| + rbar' (S_e / n_d + S_u)^-1 rbar]

    (``N`` sessions, ``D`` dyads; the second line drops ``log n_d`` terms, constant).
    The priors of ``S_u`` (``chol_dyad`` or ``sigma_dyad``) and ``S_e``
    (``chol_resid`` or ``sigma_resid``) are those of the full model. The potential is
    ``y_integrated``; ``integrated_resid_mean`` (dyad, outcome) holds ``rbar`` and
    ``integrated_chol_dyad`` / ``integrated_chol_resid`` the Cholesky factors, for
    :func:`_draw_dyad_effects` (which removes them from the posterior).
    """
    n_out = data.sizes["outcome"]
    n_dyads = data.sizes["dyad"]
    counts = np.bincount(data["dyad_idx"].values, minlength=n_dyads).astype(float)
    n_d = pm.Data("dyad_n", counts, dims="dyad")
    chol_u, _ = _outcome_scales(pm, pt, "dyad", n_out, multivariate, priors)
    chol_e, _ = _outcome_scales(pm, pt, "resid", n_out, multivariate, priors)
    resid = y_obs - mu
    rbar = _dyad_sum(pt, resid, dyad_idx, n_dyads) / n_d[:, None]
    dev = resid - rbar[dyad_idx]
    z_w = pt.linalg.solve_triangular(chol_e, dev.T, lower=True)
    logdet_e = 2.0 * pt.log(pt.diagonal(chol_e)).sum()
    within = (dev.shape[0] - n_dyads) * logdet_e + (z_w**2).sum()
    cov_u, cov_e = chol_u @ chol_u.T, chol_e @ chol_e.T
    # each dyad's S_e / n_d + S_u, factored entry by entry over all dyads at once
    # (a batched LAPACK Cholesky per gradient cost more than the rest of the model)
    logdet_b, quad_b = _small_chol_terms(
        pt,
        lambda i, j: cov_u[i, j] + cov_e[i, j] / n_d,
        [rbar[:, i] for i in range(n_out)],
    )
    between = logdet_b.sum() + quad_b.sum()
    pm.Potential("y_integrated", -0.5 * (within + between))
    pm.Deterministic("integrated_resid_mean", rbar, dims=("dyad", "outcome"))
    pm.Deterministic("integrated_chol_dyad", chol_u)
    pm.Deterministic("integrated_chol_resid", chol_e)


#: Sample large models whose dyad intercepts can be integrated out
#: (:func:`_can_integrate_dyads`) in that form; tests switch it off (False) or on for
#: every size ("always") to compare with the full model.
_INTEGRATE_DYADS = True

#: Posterior variables of the integrated model that only serve the drawing back.
_INTEGRATED_HELPERS = ("integrated_resid_mean", "integrated_chol_dyad", "integrated_chol_resid")


def _draw_dyad_effects(posterior, counts, seed, chunk=256):
    """Draw the dyad intercepts from their conditional posterior; a new posterior.

    Given the other parameters, the non-centred intercepts ``z[d]`` (``u[d] = L_u
    z[d]``, ``z ~ N(0, I)``) of a dyad with ``n_d`` sessions and mean residual
    ``rbar[d] ~ N(u[d], S_e / n_d)`` are normal with precision ``A = I + n_d L_u'
    S_e^-1 L_u`` and mean ``A^-1 L_u' n_d S_e^-1 rbar[d]`` (no inverse of ``S_u``,
    so a dyad SD near 0 is harmless). Drawing ``z`` for each posterior draw of an
    integrated model (:func:`_integrated_likelihood`) gives draws of the full
    model's posterior. Adds ``z_dyad`` and ``u_dyad`` as the full model names them
    and drops the helpers and their dims. ``seed`` (anything
    ``numpy.random.default_rng`` takes) makes the draws reproducible; ``chunk``
    draws at a time bound the memory.
    """
    rng = np.random.default_rng(seed)
    rbar = posterior["integrated_resid_mean"].values  # (chain, draw, dyad, out)
    chol_u = posterior["integrated_chol_dyad"].values  # (chain, draw, out, out)
    chol_e = posterior["integrated_chol_resid"].values
    n = np.asarray(counts, dtype=float)[None, :, None, None]
    eye = np.eye(rbar.shape[-1])
    u = np.empty(rbar.shape)
    z = np.empty(rbar.shape)
    n_chains, n_draws = rbar.shape[:2]
    for c in range(n_chains):
        for k0 in range(0, n_draws, chunk):
            sl = slice(k0, min(k0 + chunk, n_draws))
            lu, le = chol_u[c, sl], chol_e[c, sl]  # (k, out, out)
            # L_u' S_e^-1 = (L_e^-1 L_u)' L_e^-1
            g = np.linalg.solve(le, lu)  # L_e^-1 L_u
            w = np.swapaxes(g, -1, -2) @ np.linalg.inv(le)  # L_u' S_e^-1
            prec = eye + n * (w @ lu)[:, None]  # (k, dyad, out, out)
            prec = 0.5 * (prec + np.swapaxes(prec, -1, -2))
            pulled = n[..., 0] * np.einsum("kij,kdj->kdi", w, rbar[c, sl])
            mean = np.linalg.solve(prec, pulled[..., None])[..., 0]
            chol_a = np.linalg.cholesky(prec)  # A = C C': z = mean + C'^-1 noise
            noise = rng.standard_normal(mean.shape)
            draw = mean + np.linalg.solve(np.swapaxes(chol_a, -1, -2), noise[..., None])[..., 0]
            z[c, sl] = draw
            u[c, sl] = np.einsum("kij,kdj->kdi", lu, draw)
    dims = posterior["integrated_resid_mean"].dims
    out = posterior.drop_vars(list(_INTEGRATED_HELPERS))
    helper_dims = {d for name in _INTEGRATED_HELPERS for d in posterior[name].dims}
    out = out.drop_vars([d for d in helper_dims - set(dims) if d in out.coords])
    out["z_dyad"] = (dims, z)
    out["u_dyad"] = (dims, u)
    return out


def _build_alliance_model(
    data,
    *,
    multivariate=True,
    random_slopes=False,
    session_covariate="linear",
    dyad_trends=False,
    likelihood="normal",
    priors=None,
    integrate_dyads=False,
):
    """Build the PyMC alliance model (docs/methods.rst, section methods-alliance) for prepared data.

    ``y[obs, o] = alpha[o] + sum_{l, g} beta[l, g, o] X[obs, l, g] + gamma[o] session[obs]
    + u[dyad, o] (+ therapist effect) + e[obs, o]``; ``u`` and ``e`` multivariate
    normal across outcomes with LKJ priors (``multivariate``) or independent;
    ``u`` non-centred. The data decide the rest: ``therapist_idx`` adds a
    therapist level, missing ``P`` (imputation) or ``P_se`` (measurement error)
    make synchrony latent, ``S`` holds a categorical or spline session term, and
    ``attrs["detrend"]`` takes each dyad's linear session trend out of the latent
    within part. ``session_covariate`` is falsy for no session term; ``dyad_trends``
    adds dyad-specific linear session slopes ``sigma_trend[o] z[d, o]``.
    ``y_lag`` (lagged models) adds ``phi[o] * (y_lag[obs, o] - level[obs, o])``, the
    previous session's outcome around the dyad's own level ``level = alpha + u[d]
    + between-dyad terms`` (latent centring of the lagged outcome, as in dynamic
    structural equation models), which avoids the bias of centring at the observed
    dyad mean in short series.
    ``likelihood="student_t"`` gives the residuals Student-t tails (``nu``), and a
    ``y_ceiling`` variable in the data censors each outcome at its ceiling.
    ``integrate_dyads`` (models for which :func:`_can_integrate_dyads` holds) builds
    the same posterior with the dyad intercepts integrated out of the likelihood
    (:func:`_integrated_likelihood`); :func:`_draw_dyad_effects` draws them back.
    """
    pm = _soft_import("pymc", "The alliance model")
    pt = _soft_import("pytensor.tensor", "The alliance model")
    priors = _check_priors(priors)
    coords = {k: data[k].values for k in ("obs", "level", "segment", "outcome", "dyad")}
    if "covariate" in data.coords:
        coords["covariate"] = data.covariate.values
    if "therapist_idx" in data:
        coords["therapist"] = data.therapist.values
    if "S" in data:
        coords["session_term"] = data.session_term.values
    n_out = data.sizes["outcome"]
    multivariate = multivariate and n_out > 1  # one outcome: nothing to correlate
    dyad_np = data["dyad_idx"].values
    latent = "P_se" in data or bool(np.isnan(data["P"].values).any())
    with pm.Model(coords=coords) as model:
        dyad_idx = pm.Data("dyad_idx", dyad_np, dims="obs")
        # missing scales (a session rated on some of them) are 0 here and masked out
        y_obs = pm.Data("y_obs", np.nan_to_num(data["y"].values), dims=("obs", "outcome"))
        detrend = bool(data.attrs.get("detrend", 0))
        session = data["session_c"].values if detrend else None
        if data.attrs.get("centering", "observed") == "latent":
            X = _latent_centred(pm, pt, data, priors, dyad_idx, session)
        elif latent:  # within/between parts of the latent synchrony
            P = _latent_predictor(pm, pt, data, priors)
            parts = _levels(P, dyad_np, data.sizes["dyad"], session, dot=pt.dot)
            X = pt.stack(parts, axis=1)
        else:
            X = pm.Data("X", data["X"].values, dims=("obs", "level", "segment"))
        alpha = pm.Normal("alpha", 0.0, priors["alpha"], dims="outcome")
        beta = pm.Normal("beta", 0.0, priors["beta"], dims=("level", "segment", "outcome"))
        mu = alpha + (X[:, :, :, None] * beta[None]).sum(axis=(1, 2))
        # the contextual effect: what a dyad's mean adds beyond the within slope
        pm.Deterministic("contextual", beta[1] - beta[0], dims=("segment", "outcome"))
        if "C" in data:  # covariates, split within/between like synchrony
            C = pm.Data("C", data["C"].values, dims=("obs", "level", "covariate", "segment"))
            delta = pm.Normal(
                "delta", 0.0, priors["beta"], dims=("level", "covariate", "segment", "outcome")
            )
            mu = mu + (C[:, :, :, :, None] * delta[None]).sum(axis=(1, 2, 3))
        linear = session_covariate and "S" not in data
        if linear or dyad_trends:
            sess = pm.Data("session_c", data["session_c"].values, dims="obs")
        if session_covariate and not linear:  # categorical or spline session term
            S = pm.Data("S", data["S"].values, dims=("obs", "session_term"))
            gamma = pm.Normal("gamma", 0.0, priors["gamma"], dims=("session_term", "outcome"))
            mu = mu + pt.dot(S, gamma)
        elif linear:
            gamma = pm.Normal("gamma", 0.0, priors["gamma"], dims="outcome")
            mu = mu + sess[:, None] * gamma
        if dyad_trends:  # each dyad's own linear course over sessions
            sigma_trend = pm.HalfNormal("sigma_trend", priors["sigma"], dims="outcome")
            z_trend = pm.Normal("z_trend", 0.0, 1.0, dims=("dyad", "outcome"))
            trend_d = pm.Deterministic(
                "trend_dyad", z_trend * sigma_trend, dims=("dyad", "outcome")
            )
            mu = mu + sess[:, None] * trend_d[dyad_idx]
        if "therapist_idx" in data:
            ther_idx = pm.Data("therapist_idx", data["therapist_idx"].values, dims="obs")
            sigma_t = pm.HalfNormal("sigma_therapist", priors["sigma"], dims="outcome")
            z_t = pm.Normal("z_therapist", 0.0, 1.0, dims=("therapist", "outcome"))
            therapist_effect = (z_t * sigma_t)[ther_idx]
            mu = mu + therapist_effect
        if integrate_dyads:  # the same posterior without the dyad intercepts
            _integrated_likelihood(pm, pt, data, mu, y_obs, dyad_idx, multivariate, priors)
            return model
        u, slope = _dyad_effects(pm, pt, model, priors, multivariate, random_slopes)
        if random_slopes:  # each dyad's own within slopes
            mu = mu + (X[:, 0, :, None] * slope[dyad_idx]).sum(axis=1)
        if "y_lag" in data:  # lag 1: the previous session's outcome around the dyad's level
            level = alpha + u[dyad_idx] + (X[:, 1, :, None] * beta[1][None]).sum(axis=1)
            if "C" in data:
                level = level + (C[:, 1, :, :, None] * delta[1][None]).sum(axis=(1, 2))
            if "therapist_idx" in data:
                level = level + therapist_effect
            y_lag = pm.Data("y_lag", data["y_lag"].values, dims=("obs", "outcome"))
            phi = pm.Normal("phi", 0.0, priors["beta"], dims="outcome")
            mu = mu + phi * (y_lag - level)
        _likelihood(pm, data, mu + u[dyad_idx], y_obs, multivariate, likelihood, priors)
    return model


def _baked(data):
    """Whether the model's graph holds synchrony values as constants (not ``pm.Data``).

    It does when values are missing (which ones is the graph's structure) and when
    true synchrony is latent around values with standard errors (observed centring;
    latent centring takes the standard errors as data).
    """
    latent_values = "P_se" in data and data.attrs.get("centering", "observed") != "latent"
    return latent_values or bool(np.isnan(data["P"].values).any())


def _cache_key(data, options):
    """Describe what decides the compiled model: options, sizes, labels, baked-in data."""
    priors = tuple(sorted(options["priors"].items()))
    labels = tuple(
        (dim, tuple(map(str, data[dim].values)))
        for dim in ("segment", "outcome", "dyad", "therapist", "session_term")
        if dim in data.coords
    )
    key = (
        "alliance",
        options["multivariate"],
        options.get("integrate_dyads", False),
        options["random_slopes"],
        options["session_covariate"],
        options["dyad_trends"],
        options["likelihood"],
        tuple(data["y_ceiling"].values) if "y_ceiling" in data else None,
        data.attrs.get("detrend", 0),
        data.attrs.get("centering", "observed"),
        priors,
        data.sizes["obs"],
        labels,
        "therapist_idx" in data,
        "y_lag" in data,
        "P_se" in data,
        tuple(data.covariate.values) if "covariate" in data.coords else (),
    )
    unrated = np.isnan(data["y"].values)
    if unrated.any():  # which scales each session lacks is built into the likelihood
        key += ("unrated", hashlib.sha1(np.packbits(unrated).tobytes()).hexdigest())
    if _baked(data):  # latent synchrony: its data are constants of the graph
        raw = np.ascontiguousarray(np.nan_to_num(data["P"].values, nan=np.inf))
        extra = data["P_se"].values.tobytes() if "P_se" in data else b""
        if data.attrs.get("detrend", 0):  # the detrending weights are constants too
            extra += data["session_c"].values.tobytes()
        key += (
            hashlib.sha1(raw.tobytes() + extra + data["dyad_idx"].values.tobytes()).hexdigest(),
        )
    return key


def _data_in_graph(data):
    """Whether values derived from the ratings are constants of the model's graph.

    The ceilings of censored scales (standardised) and the pattern of unrated
    scales are; such a model's functions are not kept on disk (they would hold
    them, and each data set would be its own entry).
    """
    ceiling = "y_ceiling" in data and bool(np.isfinite(data["y_ceiling"].values).any())
    return ceiling or bool(np.isnan(data["y"].values).any())


def _sample_alliance(data, options, *, draws, tune, chains, sampler, seed, refit=False):
    """Build the alliance model for prepared ``data`` and sample it.

    ``options`` are :func:`_build_alliance_model`'s keyword arguments. ``refit``
    (k-fold folds, prior sensitivity): a model of a subset or of other priors,
    whose functions are not kept on disk for later processes. Returns the ArviZ
    tree with the pointwise log-likelihood of ``y``.
    """
    pm = _soft_import("pymc", "The alliance model")
    xr = _soft_import("xarray", "The alliance model")
    model = _build_alliance_model(data, **options)
    # a model too large for the low-rank mass matrix is sampled with the dyad
    # intercepts integrated out (benchmarks/bench_scale_model.py: at 1,000 dyads the
    # time to ESS 1,000 on every beta fell from 103 s to 22 s); smaller ones keep the full
    # form, whose low-rank adaptation already mixes well (and which the calibration ran)
    integrate = (
        _INTEGRATE_DYADS
        and _can_integrate_dyads(data, options)
        and (_INTEGRATE_DYADS == "always" or _n_unconstrained(model) > _LOW_RANK_MAX_DIM)
    )
    sampled = _build_alliance_model(data, **options, integrate_dyads=True) if integrate else model
    # latent true synchrony (measurement error with observed centring; latent
    # centring integrates it out)
    latent_values = "P_se" in data and data.attrs.get("centering", "observed") != "latent"
    tree = _sample(
        sampled,
        draws=draws,
        tune=tune,
        chains=chains,
        sampler=sampler,
        seed=seed,
        # latent synchrony observed with small errors makes narrow funnels: smaller
        # steps. Random slopes too: at 0.8, benchmarks/slopes_target_accept.py's 24
        # calibration studies (31 dyads) had divergences in 1 fit, at 0.9 in none;
        # the quick demo's 12 dyads (10 seeds) had them in 4 fits at 0.9, in none at
        # 0.95, with the same median time and every ESS above 400
        target_accept=0.95 if latent_values or options["random_slopes"] else None,
        cache_key=_cache_key(data, {**options, "integrate_dyads": integrate}),
        # synchrony that is a constant of the graph: no disk cache entry per data set
        persistent=not _baked(data),
        # nor are the model's functions kept when they hold ratings' values, or for
        # refits of subsets (a folder of files no later process loads)
        keep_functions=not (refit or _data_in_graph(data)),
        # the between betas trade off against the dyad effects: a low-rank mass matrix
        # (small models; with random slopes it cost 6-10 times the time)
        low_rank=not options["random_slopes"],
    )
    if integrate:  # the dyad intercepts, drawn from their conditional posterior
        if isinstance(seed, np.random.Generator):
            stream = seed.spawn(1)[0]
        else:
            stream = None if seed is None else [int(seed), 7919]
        posterior = _draw_dyad_effects(
            tree["posterior"].to_dataset(),
            np.bincount(data["dyad_idx"].values, minlength=data.sizes["dyad"]),
            seed=stream,
        )
        posterior.attrs["mne_dyad_dyad_effects"] = (
            "integrated out while sampling, then drawn from their conditional posterior; "
            "the sample stats (lp, logp) are those of the integrated model"
        )
        tree["posterior"] = xr.DataTree(posterior)
        tree["observed_data"] = xr.DataTree(_observed_data(model))
        if "constant_data" in tree.children:  # the integrated model's own data
            constant = tree["constant_data"].to_dataset()
            tree["constant_data"] = xr.DataTree(
                constant.drop_vars([v for v in ("dyad_n", "y_obs") if v in constant])
            )
    with model:
        pm.compute_log_likelihood(
            tree, var_names=["y"], extend_inferencedata=True, progressbar=False
        )
    if "observed_data" in tree.children and np.isnan(data["y"].values).any():
        observed = tree["observed_data"].to_dataset()  # the model holds 0 where missing
        observed["y"] = observed["y"].copy(data=data["y"].values)
        tree["observed_data"] = xr.DataTree(observed)
    return tree
