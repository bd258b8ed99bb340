"""Bayesian multilevel model of alliance on within/between-dyad synchrony."""

import numpy as np
import xarray as xr
from mne.utils import _check_option, _validate_type, logger, verbose, warn

from .._version import __version__
from ..utils._docs import fill_doc
from ..utils._imports import _soft_import
from ._alliance_graph import _LIKELIHOODS, _check_priors, _sample_alliance
from ._centering import _split_levels
from ._results import AllianceFit
from ._sampling import _check_sampling, _diagnose

_LEVELS = ("within", "between")


#: Values of fit_alliance_model's missing=.
_MISSING = ("drop", "impute")
#: Values of fit_alliance_model's centering=.
_CENTERINGS = ("observed", "latent")
#: Below this reliability, observed dyad means bias the between betas (Lüdtke et al., 2008).
_MIN_MEAN_RELIABILITY = 0.7
#: The alliance model warns when a beta's (or alpha's, or slope SD's) bulk ESS is below this.
_MIN_ESS_BETA = 400


def _mean_reliability(p, dyad_idx):
    """Reliability of the observed dyad means of one segment: ``1 - MSW / MSB``.

    One-way ANOVA mean squares over the observed values ``p`` grouped by dyad
    (ICC(1, k) for balanced data); NaN when no dyad has two values.
    """
    ok = np.isfinite(p)
    p, groups = p[ok], dyad_idx[ok]
    labels, groups = np.unique(groups, return_inverse=True)
    n = np.bincount(groups)
    if labels.size < 2 or p.size - labels.size < 1:
        return float("nan")
    means = np.bincount(groups, weights=p) / n
    msb = np.sum(n * (means - p.mean()) ** 2) / (labels.size - 1)
    msw = np.sum((p - means[groups]) ** 2) / (p.size - labels.size)
    return float(np.clip(1.0 - msw / msb, 0.0, 1.0)) if msb > 0 else 0.0


#: Values of fit_alliance_model's session_covariate= (None: no session term).
_SESSION_TERMS = ("auto", "linear", "categorical", "spline")


def _check_session_covariate(value):
    """``"auto"`` | ``"linear"`` | ``"categorical"`` | ``"spline"`` | None.

    True/False mean "linear"/None.
    """
    if value is True:
        return "linear"
    if value is False or value is None:
        return None
    _validate_type(value, str, "session_covariate")
    _check_option("session_covariate", value, _SESSION_TERMS)
    return value


def _auto_session_term(sess):
    """Return the session term ``session_covariate="auto"`` resolves to for ``sess``.

    ``"spline"`` with at least 4 distinct session numbers (the fewest its knots
    need), ``"linear"`` with 2 or 3, None with one.
    """
    n_unique = np.unique(sess).size
    term = "spline" if n_unique >= 4 else ("linear" if n_unique >= 2 else None)
    logger.info(
        f'session_covariate="auto": {n_unique} distinct session number(s), so '
        f"{'no session term' if term is None else repr(term)}."
    )
    return term


def _spline_basis(t):
    """Restricted (natural) cubic spline basis of ``t`` (Harrell, 2015, section 2.4.5).

    Knots at quantiles of ``t``: 4 knots (5, 35, 65, 95 %) when ``t`` has at least
    5 distinct values, else 3 (10, 50, 90 %); linear beyond the outer knots. Returns
    (n, n_knots - 1) columns, the first of them ``t`` itself.
    """
    n_unique = np.unique(t).size
    if n_unique < 4:
        raise ValueError(
            f'session_covariate="spline" needs at least 4 distinct session numbers; the '
            f'data have {n_unique}. Use "linear" or "categorical".'
        )
    probs = (0.05, 0.35, 0.65, 0.95) if n_unique >= 5 else (0.1, 0.5, 0.9)
    knots = np.unique(np.quantile(t, probs))
    if knots.size < len(probs):  # ties at the quantiles: spread over the distinct values
        knots = np.quantile(np.unique(t), probs)
    k, last, prev = knots.size, knots[-1], knots[-2]
    cube = lambda u: np.maximum(u, 0.0) ** 3  # noqa: E731
    cols = [t]
    for j in range(k - 2):
        cols.append(
            (
                cube(t - knots[j])
                - cube(t - prev) * (last - knots[j]) / (last - prev)
                + cube(t - last) * (prev - knots[j]) / (last - prev)
            )
            / (last - knots[0]) ** 2
        )
    return np.column_stack(cols)


def _session_design(sess, kind):
    """Columns and names of the session term (categorical: 0/1 dummies).

    The spline's columns are centred and made orthogonal (QR), each with SD 1: the
    first stays the standardised session number, each later one is the part of a
    spline column that the earlier ones do not hold. The space (and so the fitted
    course) is the spline's; the raw columns are nearly collinear, and their
    coefficients mixed poorly with the intercept (bulk ESS about 100 of 2,000 draws
    in the random-slopes model of the calibration studies).
    """
    if kind == "categorical":
        levels = np.unique(sess)
        if levels.size < 2:
            raise ValueError('session_covariate="categorical" needs at least 2 session numbers.')
        names = [f"session {v:g}" for v in levels[1:]]  # the first session is the reference
        return (sess[:, None] == levels[None, 1:]).astype(float), names
    basis = _spline_basis(sess)
    basis = basis - basis.mean(axis=0)
    q, r = np.linalg.qr(basis)
    # signs so each column follows its spline column; SD 1 (centred columns of norm 1)
    basis = q * np.where(np.diag(r) < 0, -1.0, 1.0) * np.sqrt(max(sess.size - 1, 1))
    return basis, ["linear"] + [f"spline {j}" for j in range(1, basis.shape[1])]


#: Draws per chain when ``draws=None``: without and with random slopes. The random
#: slopes' SDs and the betas they multiply mix more slowly (ESS per draw about a third
#: as high), and 3,000 draws keep the betas' bulk ESS well above 400 (the
#: calibration's random-slopes fits: at least 1,058 on the target beta).
_DEFAULT_DRAWS = {False: 1000, True: 3000}


def _default_draws(draws, random_slopes):
    """``draws``, or with None the default for the model (``_DEFAULT_DRAWS``)."""
    return _DEFAULT_DRAWS[bool(random_slopes)] if draws is None else draws


def _check_ids(cube, alliance):
    for name, ds in (("cube", cube), ("alliance", alliance)):
        for dim in ("dyad", "session"):
            if dim not in ds.dims:
                raise ValueError(f"The {name} has no {dim!r} dimension (dims: {dict(ds.sizes)}).")
    dyads = [d for d in cube.dyad.values if d in set(alliance.dyad.values)]
    sessions = [s for s in cube.session.values if s in set(alliance.session.values)]
    if not dyads or not sessions:
        dim = "dyad" if not dyads else "session"
        raise ValueError(
            f"The cube and the alliance data share no {dim}: cube {dim}s "
            f"{list(cube[dim].values)[:5]}, alliance {dim}s "
            f"{list(alliance[dim].values)[:5]}; check that both use the same ids (a "
            "session written 's1' in one and 1 in the other does not match)."
        )
    return dyads, sessions


def _therapist_of(therapist, dyads, *datasets):
    """Map each dyad to its therapist id, or None when ``therapist`` is None/False.

    ``therapist=True`` reads the ``therapist`` coordinate of the first dataset that
    has one; a dict maps dyads to therapists directly.
    """
    if therapist is None or therapist is False:
        return None
    if therapist is True:
        for ds in datasets:
            if "therapist" in ds.coords:
                mapping = dict(zip(ds.dyad.values, ds.therapist.values, strict=True))
                break
        else:
            raise ValueError(
                "therapist=True needs a 'therapist' coordinate on the cube (or the alliance "
                "data); pass therapist={dyad: therapist} instead."
            )
    else:
        _validate_type(therapist, dict, "therapist")
        mapping = dict(therapist)
    missing = [d for d in dyads if d not in mapping or mapping[d] in ("", None)]
    if missing:
        raise ValueError(f"No therapist is known for dyad(s) {sorted(missing)[:5]}.")
    return {d: str(mapping[d]) for d in dyads}


def _prepare_alliance_data(
    cube,
    alliance,
    *,
    summary="all_lags",
    segments=("IM", "CB"),
    outcomes=("bond", "task", "goal"),
    standardize=True,
    missing="drop",
    complete_on=None,
    measurement_error=False,
    therapist=None,
    covariates=(),
    session_covariate="linear",
    detrend=False,
    centering="observed",
    ceiling=None,
    lag=0,
    gaps="skip",
):
    """Long-format model data: standardised, within/between split.

    Returns an ``xarray.Dataset`` on ``obs`` with ``P`` (obs, segment: the
    standardised predictor, NaN where a segment is missing and ``missing="impute"``),
    ``P_se`` (its standard error, with ``measurement_error``), ``X`` (obs, level,
    segment: within/between parts of ``P``, NaN-free when nothing is latent),
    ``y`` (obs, outcome), ``session_c``, ``dyad_idx`` (and ``therapist_idx``), and
    the transform ``x_mean``/``x_sd``, ``y_mean``/``y_sd``,
    ``session_mean``/``session_sd``; with a categorical or spline
    ``session_covariate``, the session design ``S`` (obs, session_term).
    ``detrend`` takes each dyad's own linear trend over sessions out of the
    within part (:func:`mne_dyad.stats._centering._split_levels`). ``ceiling``
    adds ``y_ceiling`` (outcome; standardised, NaN where there is none).
    With ``lag=1`` a row pairs the predictors of session ``s`` with the
    outcomes of session ``s + 1``, and ``y_lag`` (obs, outcome) holds the
    outcomes of session ``s``, standardised like ``y``.
    """
    _check_option("missing", missing, _MISSING)
    session_covariate = _check_session_covariate(session_covariate)
    _validate_type(detrend, bool, "detrend")
    _check_option("centering", centering, _CENTERINGS)
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
    se_name = f"{summary}_se"
    if measurement_error and se_name not in cube.data_vars:
        raise ValueError(
            f"measurement_error=True needs the cube variable {se_name!r} (the standard "
            "error of the window values); compute the cube with method='wclc'."
        )
    complete_on = tuple(segments if complete_on is None else complete_on)
    extra = [s for s in complete_on if s not in list(cube.segment.values)]
    if extra:
        raise ValueError(
            f"complete_on names segment(s) {extra} the cube does not have "
            f"({list(cube.segment.values)})."
        )
    covariates = _check_covariates(cube, covariates, summary)
    dyads, sessions = _check_ids(cube, alliance)
    sel = dict(dyad=dyads, session=sessions, segment=list(segments))
    C = None
    if covariates:
        C = np.stack(
            [
                cube[name].sel(**sel).transpose("dyad", "session", "segment").values
                for name in covariates
            ],
            axis=-2,
        )  # (dyad, session, covariate, segment)
    P = cube[summary].sel(**sel).transpose("dyad", "session", "segment").values
    SE = (
        cube[se_name].sel(**sel).transpose("dyad", "session", "segment").values
        if (measurement_error)
        else None
    )
    Y = alliance[list(outcomes)].sel(dyad=dyads, session=sessions).to_dataarray("outcome")
    Y = Y.transpose("dyad", "session", "outcome").values
    Y_lag, out_session = None, np.asarray(sessions)
    if lag:
        Y, Y_lag, out_session = _lag_outcomes(P, Y, dyads, sessions, gaps)
    for k, seg in enumerate(segments):
        if not np.isfinite(P[..., k]).any():
            raise ValueError(
                f"No session has a {seg!r} {summary} value: every session lacks this "
                "segment. Drop it from segments=."
            )
    p_ok = np.isfinite(P)
    if SE is not None:
        p_ok &= np.isfinite(SE) & (SE > 0)
    # a session with some of the scales stays in (the likelihood marginalises the
    # others), except under censoring, which needs every scale
    y_all = np.isfinite(Y).all(axis=-1)
    y_ok = y_all if ceiling not in (None, False) else np.isfinite(Y).any(axis=-1)
    if Y_lag is not None:
        y_ok &= np.isfinite(Y_lag).all(axis=-1)
    required = cube[summary].sel(dyad=dyads, session=sessions, segment=list(complete_on))
    has_required = np.isfinite(required.transpose("dyad", "session", "segment").values).all(-1)
    if missing == "drop":
        keep = y_ok & has_required & p_ok.all(axis=-1)
    else:  # impute: any session with every outcome and at least one segment
        keep = y_ok & p_ok.any(axis=-1)
    if C is not None:  # covariates are never imputed: a session needs all of them
        c_ok = np.isfinite(C).all(axis=(-1, -2))
        if (keep & ~c_ok).any():
            logger.info(
                f"Alliance model data: {int((keep & ~c_ok).sum())} session(s) dropped for a "
                f"missing covariate of {list(covariates)}."
            )
        keep &= c_ok
    n_any = int((np.isfinite(P).any(-1) | np.isfinite(Y).any(-1)).sum())
    n_imputed = int((~p_ok[keep]).sum()) if missing == "impute" else 0
    logger.info(
        f"Alliance model data: {int(keep.sum())} (dyad, session) kept of {n_any} with any "
        f"data; dropped {int((y_ok & ~keep).sum())} lacking synchrony in a segment of "
        f"{list(segments)} and {int((~y_ok & np.isfinite(P).any(-1)).sum())} lacking "
        + ("an alliance scale" if ceiling not in (None, False) else "every alliance scale")
        + (f"; {n_imputed} missing values imputed" if missing == "impute" else "")
        + (
            f"; {int((keep & ~y_all).sum())} kept with only some of the scales."
            if (keep & ~y_all).any()
            else "."
        )
    )
    di, si = np.nonzero(keep)
    used_dyads = sorted(set(di))
    if len(used_dyads) < 3:
        raise ValueError(
            f"Only {len(used_dyads)} dyad(s) have complete data (synchrony in "
            f"{list(complete_on)} and every scale of {list(outcomes)}); a multilevel model "
            "needs at least 3 dyads."
        )
    p = np.where(p_ok[di, si], P[di, si], np.nan)
    for k, seg in enumerate(segments):  # the kept sessions, not only the cube
        if not np.isfinite(p[:, k]).any():
            raise ValueError(
                f"No kept session has a {seg!r} {summary} value (sessions without "
                "ratings, covariates or a valid standard error were dropped): its betas "
                "would rest on the prior alone. Drop it from segments=."
            )
    y = Y[di, si]
    sess = np.asarray(out_session, float)[si]  # the outcome's session
    if session_covariate == "auto":
        session_covariate = _auto_session_term(sess)
    if standardize:
        x_mean, x_sd = np.nanmean(p, 0), np.nanstd(p, 0, ddof=1)
        y_mean, y_sd = np.nanmean(y, 0), np.nanstd(y, 0, ddof=1)
    else:
        x_mean, x_sd = np.zeros(p.shape[1]), np.ones(p.shape[1])
        y_mean, y_sd = np.zeros(y.shape[1]), np.ones(y.shape[1])
    for sd, names, what in ((x_sd, segments, "synchrony"), (y_sd, outcomes, "scale")):
        flat = [n for n, v in zip(names, sd, strict=True) if not v > 0]
        if flat:
            raise ValueError(f"The {what} {flat} does not vary across sessions: cannot model it.")
    s_mean = sess.mean()
    s_sd = sess.std(ddof=1) if sess.std() > 0 else 1.0
    pz = (p - x_mean) / x_sd
    remap = {d: k for k, d in enumerate(used_dyads)}
    dyad_idx = np.array([remap[d] for d in di])
    within, between = _split_levels(pz, dyad_idx, len(used_dyads), sess if detrend else None)
    if detrend:
        counts = [
            np.bincount(dyad_idx[np.isfinite(pz[:, g])], minlength=len(used_dyads))
            for g in range(pz.shape[1])
        ]
        short = sorted({dyads[used_dyads[d]] for c in counts for d in np.flatnonzero(c < 3)})
        if short:
            logger.info(
                f"Alliance model data: detrend=True leaves {len(short)} dyad(s) with fewer "
                f"than 3 sessions of a segment only centred, not detrended: {short[:5]}."
            )
    dyad_labels = np.array([dyads[d] for d in used_dyads], dtype=object)
    out = xr.Dataset(
        {
            "P": (("obs", "segment"), pz),
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
            "obs_session": ("obs", np.asarray(out_session)[si]),
            "level": np.array(_LEVELS, dtype=object),
            "segment": np.array(segments, dtype=object),
            "outcome": np.array(outcomes, dtype=object),
            "dyad": dyad_labels,
        },
        attrs={
            "summary": summary,
            "standardize": int(standardize),
            "session_covariate": str(session_covariate),
            "detrend": int(detrend),
            "centering": centering,
            "missing": missing,
            "n_imputed": n_imputed,
            "complete_on": ",".join(complete_on),
        },
    )
    reliability = np.array([_mean_reliability(pz[:, g], dyad_idx) for g in range(pz.shape[1])])
    out["mean_reliability"] = ("segment", reliability)
    low = [
        f"{g} {r:.2f}"
        for g, r in zip(segments, reliability, strict=True)
        if r < _MIN_MEAN_RELIABILITY
    ]
    if low and centering == "observed":
        per_dyad = len(di) / len(used_dyads)
        warn(
            f"The observed dyad means of {summary} have reliability {', '.join(low)} "
            f"(1 - MSW/MSB, {per_dyad:.1f} sessions per dyad), below "
            f"{_MIN_MEAN_RELIABILITY}: with centering='observed' the between-dyad betas are "
            "pulled toward the within-dyad betas (Lüdtke et al., 2008). Use "
            "centering='latent', which treats the dyad means as unknown."
        )
    elif low:
        logger.info(f"Dyad-mean reliability {', '.join(low)}: the latent means carry it.")
    if Y_lag is not None:  # the outcomes of the predictors' session (the model centres them)
        out["y_lag"] = (("obs", "outcome"), (Y_lag[di, si] - y_mean) / y_sd)
        out = out.assign_coords(obs_predictor_session=("obs", np.asarray(sessions)[si]))
        out.attrs["lag"] = int(lag)
    uppers = _check_ceiling(ceiling, alliance, outcomes)
    if uppers is not None:
        _check_below_ceiling(y, uppers, outcomes, out)
        out["y_ceiling"] = ("outcome", (uppers - y_mean) / y_sd)
        at = np.isclose(y, uppers[None], rtol=0, atol=1e-9)
        # a value at the ceiling is censored only if it equals it exactly, in model units
        yz = np.where(at, out["y_ceiling"].values[None], out["y"].values)
        out["y"] = (("obs", "outcome"), yz)
        out.attrs["n_at_ceiling"] = ",".join(
            f"{o}={int(n)}" for o, n in zip(outcomes, at.sum(0), strict=True)
        )
    if session_covariate in ("categorical", "spline"):
        S, names = _session_design(sess, session_covariate)
        out = out.assign_coords(session_term=np.array(names, dtype=object))
        out["S"] = (("obs", "session_term"), S)
    if measurement_error:
        out["P_se"] = (("obs", "segment"), np.where(p_ok[di, si], SE[di, si], np.nan) / x_sd)
    if C is not None:
        out = _add_covariates(out, C[di, si], covariates, dyad_idx, len(used_dyads), standardize)
    ther = _therapist_of(therapist, list(dyad_labels), cube, alliance)
    if ther is not None:
        names = sorted(set(ther.values()))
        out = out.assign_coords(therapist=np.array(names, dtype=object))
        idx = [names.index(ther[d]) for d in out.obs_dyad.values]
        out["therapist_idx"] = ("obs", np.array(idx))
    return out


#: Values of fit_alliance_model's gaps=.
_GAPS = ("skip", "raise")


def _select_raters(alliance, rater, outcomes):
    """Alliance data and outcome names for ``rater=`` (see :func:`fit_alliance_model`)."""
    _validate_type(rater, (None, str, list, tuple), "rater")
    if "rater" not in alliance.dims:
        if rater is not None:
            raise ValueError(
                f"rater={rater!r} needs alliance data with a 'rater' dimension; read the "
                "scales with read_sai(..., rater=) or rater_col=."
            )
        return alliance, outcomes
    labels = [str(r) for r in alliance.rater.values]
    if rater is None:
        if len(labels) > 1:
            raise ValueError(
                f"The alliance data have raters {labels}: pass rater= one of them, or "
                "rater='all' to model every rater's scales jointly."
            )
        return alliance.isel(rater=0, drop=True), outcomes
    chosen = labels if rater == "all" else [rater] if isinstance(rater, str) else list(rater)
    unknown = [r for r in chosen if r not in labels]
    if unknown or not chosen:
        raise ValueError(f"rater {unknown or chosen} is not among the alliance raters {labels}.")
    if len(chosen) == 1:
        return alliance.sel(rater=chosen[0], drop=True), outcomes
    missing = [o for o in outcomes if o not in alliance.data_vars]
    if missing:
        raise ValueError(
            f"The alliance data has no scale(s) {missing}; it has {sorted(alliance.data_vars)}."
        )
    joint = xr.Dataset(
        {f"{o} ({r})": alliance[o].sel(rater=r, drop=True) for r in chosen for o in outcomes}
    )
    return joint, tuple(f"{o} ({r})" for r in chosen for o in outcomes)


#: Values of fit_alliance_model's direction=.
_DIRECTIONS = ("synchrony_to_alliance", "alliance_to_synchrony")


def _check_lag(lag, direction):
    """``lag`` is 0 or 1; the reverse direction needs ``lag=1``."""
    _validate_type(direction, str, "direction")
    _check_option("direction", direction, _DIRECTIONS)
    if isinstance(lag, bool) or lag not in (0, 1):
        raise ValueError(f"lag must be 0 or 1, got {lag!r}.")
    if direction == "alliance_to_synchrony" and lag != 1:
        raise ValueError(
            "direction='alliance_to_synchrony' is a lagged model (alliance in session s "
            "predicts synchrony in s + 1): pass lag=1. At lag 0 the association is the "
            "forward model's."
        )
    return int(lag)


def _lag_outcomes(P, Y, dyads, sessions, gaps):
    """Pair each session's predictors with the next session's outcomes.

    Returns ``Y_next`` (dyad, session, outcome: the outcomes of session number
    ``s + 1``, NaN when the dyad has no such session), ``Y_lag`` (the outcomes of
    ``s`` itself) and the outcome sessions (``s + 1``). A dyad whose rated
    sessions skip a number (1, 2, 4) has a gap: session 2 is not paired with 4,
    and with ``gaps="raise"`` that is an error.
    """
    _check_option("gaps", gaps, _GAPS)
    numbers = np.asarray(sessions, float)
    where = {v: i for i, v in enumerate(numbers)}
    nxt = np.array([where.get(v + 1, -1) for v in numbers])
    Y_next = np.full(Y.shape, np.nan)
    Y_next[:, nxt >= 0] = Y[:, nxt[nxt >= 0]]
    next_session = np.where(nxt >= 0, numbers + 1, np.nan)
    # a gap: a session that could predict (synchrony and alliance) whose next session
    # number has no alliance although a later session of the dyad has
    usable = np.isfinite(P).any(-1) & np.isfinite(Y).all(-1)
    rated = np.isfinite(Y).any(-1)
    paired = np.isfinite(Y_next).any(-1)
    found = []
    for d, dyad in enumerate(dyads):
        for i in np.flatnonzero(usable[d] & ~paired[d]):
            later = np.flatnonzero(rated[d] & (numbers > numbers[i]))
            if later.size:
                found.append(f"{dyad}: {numbers[i]:g} -> {numbers[later[0]]:g}")
    if found and gaps == "raise":
        raise ValueError(
            f"lag=1 pairs each session with the next one, but {len(found)} pair(s) of "
            f"rated sessions are not consecutive ({', '.join(found[:5])}). Pass "
            "gaps='skip' to leave those pairs out."
        )
    if found:
        logger.info(
            f"Lagged model: {len(found)} pair(s) of rated sessions are not consecutive "
            f"and are skipped ({', '.join(found[:5])}{', ...' if len(found) > 5 else ''})."
        )
    return Y_next, Y, next_session


def _swap_roles(cube, alliance, summary, segments, outcomes):
    """Datasets for the reverse model: alliance scales predict synchrony.

    The returned cube holds the scales as a ``segment`` dimension of the
    variable ``"alliance"``; the returned alliance data hold each segment's
    synchrony as a variable.
    """
    dyads, sessions = _check_ids(cube, alliance)
    scales = alliance[list(outcomes)].sel(dyad=dyads, session=sessions)
    pred = scales.to_dataarray("segment").transpose("dyad", "session", "segment")
    new_cube = xr.Dataset({"alliance": pred.drop_attrs()})
    if "therapist" in cube.coords:
        new_cube = new_cube.assign_coords(therapist=cube.therapist.sel(dyad=dyads))
    sync = cube[summary].sel(dyad=dyads, session=sessions)
    new_alliance = xr.Dataset(
        {str(g): sync.sel(segment=g, drop=True).drop_attrs() for g in segments}
    )
    return new_cube, new_alliance


def _check_ceiling(ceiling, alliance, outcomes):
    """Each outcome's ceiling on its own scale (NaN: none), or None without censoring.

    ``True`` reads the upper end of each scale's ``valid_range`` attribute
    (``"1-7"``, written by :func:`mne_dyad.alliance.read_sai`); a dict gives
    ``{outcome: ceiling}`` (outcomes left out are not censored).
    """
    _validate_type(ceiling, (None, bool, dict), "ceiling")
    if ceiling is None or ceiling is False:
        return None
    uppers = np.full(len(outcomes), np.nan)
    if ceiling is True:
        for k, name in enumerate(outcomes):
            text = str(alliance[name].attrs.get("valid_range", ""))
            try:
                uppers[k] = float(text.rsplit("-", 1)[1])
            except (IndexError, ValueError):
                raise ValueError(
                    f"ceiling=True reads each scale's 'valid_range' attribute (such as "
                    f"'1-7', set by read_sai), but {name!r} has {text or 'none'}. Pass "
                    f"ceiling={{{name!r}: <the scale's maximum>}}."
                ) from None
        return uppers
    unknown = sorted(set(ceiling) - set(outcomes))
    if unknown:
        raise ValueError(f"ceiling names outcome(s) {unknown} not in outcomes={list(outcomes)}.")
    for k, name in enumerate(outcomes):
        if name in ceiling:
            value = ceiling[name]
            if not (isinstance(value, (int, float)) and np.isfinite(value)):
                raise ValueError(f"The ceiling of {name!r} must be a number, got {value!r}.")
            uppers[k] = float(value)
    return uppers


def _check_below_ceiling(y, uppers, outcomes, data):
    """No observed value may lie above its outcome's ceiling."""
    above = np.isfinite(uppers)[None] & (y > uppers[None] + 1e-9)
    if above.any():
        i, k = (int(v[0]) for v in np.nonzero(above))
        raise ValueError(
            f"{outcomes[k]!r} of dyad {data.obs_dyad.values[i]}, session "
            f"{data.obs_session.values[i]} is {y[i, k]:g}, above its ceiling {uppers[k]:g}. "
            "Check the ceiling (the scale's maximum) or the data."
        )


def _check_covariates(cube, covariates, summary):
    """Return the covariate names, checked against the cube."""
    _validate_type(covariates, (list, tuple), "covariates")
    covariates = tuple(covariates)
    for name in covariates:
        _validate_type(name, str, "each covariate")
        if name not in cube.data_vars:
            arousal = [v for v in cube.data_vars if v.endswith(("_scr_rate", "_tonic"))]
            hint = (
                f" Arousal variables of this cube: {arousal}."
                if arousal
                else " Compute the cube with arousal=True, or merge "
                "mne_dyad.synchrony.arousal(sessions) into it."
            )
            raise ValueError(f"The cube has no covariate {name!r}.{hint}")
        if set(cube[name].dims) != {"dyad", "session", "segment"}:
            raise ValueError(
                f"Covariate {name!r} has dims {cube[name].dims}; it must be a dyad x session x "
                "segment variable."
            )
    if summary in covariates or len(set(covariates)) < len(covariates):
        raise ValueError(
            f"covariates {list(covariates)} must be distinct and not the summary {summary!r}."
        )
    return covariates


def _add_covariates(out, C, names, dyad_idx, n_dyads, standardize):
    """Add covariates split within/between like synchrony: ``C`` (obs, level, covariate, segment).

    ``C`` in: (obs, covariate, segment), complete.
    """
    if standardize:
        c_mean, c_sd = C.mean(0), C.std(0, ddof=1)
    else:
        c_mean, c_sd = np.zeros(C.shape[1:]), np.ones(C.shape[1:])
    flat = [
        f"{names[k]} in {out.segment.values[g]}"
        for k, g in zip(*np.nonzero(~(c_sd > 0)), strict=True)
    ]
    if flat:
        raise ValueError(f"The covariate {flat} does not vary across sessions: cannot model it.")
    cz = (C - c_mean) / c_sd
    dyad_mean = np.zeros((n_dyads, *cz.shape[1:]))
    np.add.at(dyad_mean, dyad_idx, cz)
    dyad_mean /= np.bincount(dyad_idx, minlength=n_dyads)[:, None, None]
    within = cz - dyad_mean[dyad_idx]
    between = dyad_mean[dyad_idx] - cz.mean(0)
    out = out.assign_coords(covariate=np.array(names, dtype=object))
    out["C"] = (("obs", "level", "covariate", "segment"), np.stack([within, between], axis=1))
    out["c_mean"] = (("covariate", "segment"), c_mean)
    out["c_sd"] = (("covariate", "segment"), c_sd)
    return out


@verbose
@fill_doc
def fit_alliance_model(
    cube,
    alliance,
    *,
    summary="all_lags",
    segments=("IM", "CB"),
    outcomes=("bond", "task", "goal"),
    multivariate=True,
    random_slopes=True,
    therapist=None,
    measurement_error=False,
    missing="drop",
    complete_on=None,
    session_covariate="auto",
    dyad_trends=False,
    detrend=True,
    centering="latent",
    covariates=(),
    likelihood="normal",
    ceiling=None,
    lag=0,
    direction="synchrony_to_alliance",
    gaps="skip",
    rater=None,
    standardize=True,
    priors=None,
    draws=None,
    tune=1000,
    chains=2,
    sampler="nutpie",
    seed=None,
    verbose=None,
):
    """Fit the multilevel model of alliance on within/between-dyad synchrony.

    For dyad ``d``, session ``s`` and outcome ``o`` (see :ref:`methods-alliance`)::

        y[d,s,o] = alpha[o]
                   + sum_g beta[within, g, o] * P_w[d,s,g] + beta[between, g, o] * P_b[d,g]
                   + gamma[o] * session[d,s] + u[d,o] + e[d,s,o]

    where ``g`` runs over the segment types, ``P_w`` is a session's synchrony
    minus its dyad's mean and ``P_b`` the dyad mean minus the grand mean. By
    default the dyad effects ``u`` and residuals ``e`` are multivariate normal
    across outcomes with LKJ priors on their correlations; ``u`` is non-centred.

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
    multivariate : bool
        True (default): dyad effects and residuals correlated across outcomes
        (LKJ). False: outcomes independent (each with its own variances).
    random_slopes : bool
        True (default): each dyad has its own within-dyad slopes around
        ``beta[within]`` (SD ``sigma_slope[segment, outcome]``), correlated with
        that outcome's dyad intercept through an LKJ prior, one per outcome
        (``chol_dyad_block[outcome]``). Without them, dyads whose slopes differ make the
        within betas' intervals too narrow (in the calibration, a false-positive rate of 0.167
        and coverage of 0.78 at a slope SD of 0.4). False: one slope for
        all dyads (narrower intervals when the slopes truly agree).
    therapist : None | bool | dict
        Add a therapist level (``sigma_therapist[outcome]``): True uses the
        ``therapist`` coordinate of the cube or the alliance data, or pass
        ``{dyad: therapist}``.
    measurement_error : bool
        Treat each session's synchrony as latent, observed with the standard
        error of its window values (cube variable ``<summary>_se``).
    missing : str
        ``"drop"`` (default): sessions lacking a segment are left out, and the
        count is logged. ``"impute"``: missing synchrony becomes a parameter with
        a normal prior learnt from the observed values.
    complete_on : None | sequence of str
        With ``missing="drop"``, the segments a session must have (default: all
        of ``segments``). Use the same value in models you compare by LOO so
        they see the same sessions (for example ``complete_on=("IM", "CB")`` in
        an IM-only model).
    session_covariate : None | str | bool
        The alliance's course over sessions, common to all dyads: ``"auto"``
        (default: ``"spline"`` when the kept sessions have at least 4 distinct
        session numbers, ``"linear"`` with 2 or 3, none with one; logged and
        stored in the fit's parameters), ``"linear"`` (the standardised
        session number, ``gamma[outcome]``),
        ``"categorical"`` (one coefficient per session number after the first,
        ``gamma[session_term, outcome]``), ``"spline"`` (a restricted cubic spline
        with 3 or 4 knots, for a course that rises and levels off) or None (no
        session term; ``false`` in a pipeline's TOML). True and False are read
        as ``"linear"`` and None.
    dyad_trends : bool
        Give each dyad its own linear course of alliance over sessions
        (``trend_dyad[dyad, outcome] = sigma_trend[outcome] * z``), so that dyads
        whose alliance grows while their synchrony grows do not make a within
        effect.
    detrend : bool
        True (default): take each dyad's own linear trend over sessions out of
        its synchrony before the within/between split, so that dyads whose
        synchrony and alliance both drift over the treatment do not make a
        within effect (a least-squares line per dyad and
        segment; dyads with fewer than 3 sessions of a segment are only
        centred). The within part is then what is left of a session's synchrony
        after its dyad's trend.
    centering : str
        Where the within/between split centres synchrony. ``"latent"``
        (default): at a latent dyad mean ``m`` (``P = m + w``, ``m ~ N(mu_P,
        tau_P)``, ``w ~ N(0, sigma_P_within)``; Lüdtke et al., 2008), integrated
        out: synchrony enters through its marginal likelihood, the between part
        is ``E[m | P] - mu_P`` (the dyad's observed mean shrunk by its
        reliability; ``P_dyad`` in the posterior) and the within part ``E[w |
        P]``. A missing value's within part is a parameter. ``"observed"``: at
        each dyad's observed mean, which, from a handful of noisy sessions, is
        itself noisy, so that the between betas are pulled toward the within
        betas (a warning names the reliability of the dyad means when it is
        below 0.7); the default before 0.2. In the calibration the within betas
        are calibrated either way; when alliance follows coupling relative to the
        dyads' true means, observed centring's between beta is pulled out of its
        intervals, while when it follows the mean of the recorded sessions,
        latent centring's leans the other way inside wide intervals and its
        within betas shrink a little (see :ref:`methods-calibration`, which says
        why the default takes the true-mean footing). See
        :ref:`methods-alliance`.
    covariates : sequence of str
        Cube variables on ``dyad x session x segment`` to adjust for, such as
        the arousal variables ``("client_scr_rate", "therapist_scr_rate")``
        (:func:`mne_dyad.synchrony.arousal`). Each is standardised and split
        within/between dyads per segment exactly like synchrony, with
        coefficients ``delta[level, covariate, segment, outcome]`` (normal prior
        with the SD of ``beta``), reported by :meth:`AllianceFit.summary`.
        Sessions missing a covariate are left out (covariates are not imputed).
    likelihood : str
        The residuals' distribution: ``"normal"`` (default) or ``"student_t"``
        (Student-t with ``nu ~ Gamma(2, 0.1)`` degrees of freedom, shared by the
        outcomes; multivariate Student-t when ``multivariate``), so that a few
        sessions far from their dyad's course do not move the betas.
    ceiling : None | bool | dict
        Censor each outcome at the top of its scale, for scales whose ratings
        bunch at the maximum: a session at the ceiling then says only that the
        alliance was at least that high. True reads each scale's
        ``valid_range`` attribute (set by :func:`mne_dyad.alliance.read_sai`);
        ``{outcome: maximum}`` gives the ceilings on the scales' own units.
        Needs ``multivariate=False``. The number of sessions at each ceiling is
        in ``fit.data.attrs["n_at_ceiling"]``.
    lag : int
        0 (default): a session's synchrony and its own alliance. 1: the
        synchrony of session ``s`` predicts the alliance of session ``s + 1``,
        with the alliance of session ``s`` as a covariate (``phi[outcome]``,
        taken around the dyad's latent level, not its observed mean), so that
        a beta says what synchrony adds to the next session beyond the
        alliance already reached. Only consecutive
        session numbers are paired; see ``gaps``.
    direction : str
        With ``lag=1``: ``"synchrony_to_alliance"`` (default) or
        ``"alliance_to_synchrony"``, the reverse model, in which the alliance
        scales of session ``s`` (split within/between dyads) predict each
        segment's synchrony in session ``s + 1`` with the synchrony of ``s`` as
        the covariate. In the reverse fit the ``segment`` coordinate holds the
        scales and ``outcome`` the segments: ``beta[within, bond, IM]`` is the
        effect of a dyad's better-than-usual bond on its next IM synchrony.
        ``measurement_error``, ``covariates``, ``ceiling`` and ``complete_on``
        are for the forward direction.
    gaps : str
        With ``lag=1``, what to do with a dyad whose observed sessions skip a
        number (1, 2, 4): ``"skip"`` (default) leaves the non-consecutive pair
        out and logs how many there were; ``"raise"`` makes it an error.
    rater : None | str | sequence of str
        For alliance data with a ``rater`` dimension
        (:func:`mne_dyad.alliance.read_sai` with ``rater=`` or ``rater_col=``):
        one rater's label (``"client"``) models that rater's scales; a sequence
        of labels, or ``"all"``, models every rater x scale jointly, as outcomes
        named ``"<scale> (<rater>)"`` whose dyad effects and residuals are
        correlated across raters and scales (LKJ) when ``multivariate``. None
        (default) needs alliance data without raters, or with only one.
    standardize : bool
        Standardise predictors (per segment, before the within/between split)
        and outcomes, so betas are in SD units; the transform is stored.
    priors : None | dict
        Prior scales, any of ``alpha``, ``beta``, ``gamma`` (normal SDs,
        default 1), ``sigma`` (half-normal SD of every variance component,
        default 1) and ``lkj_eta`` (default 2). The defaults are weakly
        informative on standardised data.
    draws : int | None
        Posterior draws per chain. None (default): 3,000 with random slopes,
        1,000 without (the slopes mix more slowly; see the methods page).
    tune, chains : int
        Tuning steps per chain, and the number of chains.
    sampler : str
        ``"nutpie"`` (default, compiled with numba, chains in parallel threads),
        ``"pymc"`` (PyMC's NUTS, chains one after another) or ``"numpyro"`` (if
        numpyro and jax are installed).
    %(seed)s
    %(verbose)s

    Returns
    -------
    fit : AllianceFit
        Posterior (``fit.datatree``, an :class:`xarray.DataTree` with a
        ``log_likelihood`` group for LOO), the model data and the
        standardisation; see :meth:`AllianceFit.summary`.
    """
    _validate_type(cube, xr.Dataset, "cube")
    _validate_type(alliance, xr.Dataset, "alliance")
    draws = _default_draws(draws, random_slopes)
    _check_sampling(draws, tune, chains, sampler)
    _validate_type(likelihood, str, "likelihood")
    _check_option("likelihood", likelihood, _LIKELIHOODS)

    if sampler == "numpyro":
        _soft_import("numpyro", "sampler='numpyro'")
    for flag, name in (
        (multivariate, "multivariate"),
        (random_slopes, "random_slopes"),
        (measurement_error, "measurement_error"),
        (dyad_trends, "dyad_trends"),
        (detrend, "detrend"),
    ):
        _validate_type(flag, bool, name)
    priors = _check_priors(priors)
    segments = tuple(segments)
    outcomes = tuple(outcomes)
    lag = _check_lag(lag, direction)
    alliance, outcomes = _select_raters(alliance, rater, outcomes)
    if ceiling not in (None, False) and multivariate and len(tuple(outcomes)) > 1:
        raise ValueError(
            "ceiling= censors each outcome on its own, which needs multivariate=False "
            "(a censored multivariate normal has no closed form)."
        )
    names = {"summary": summary, "segments": segments, "outcomes": outcomes}
    if direction == "alliance_to_synchrony":
        given = {
            "measurement_error": measurement_error,
            "covariates": tuple(covariates),
            "ceiling": ceiling not in (None, False),
            "complete_on": complete_on is not None,
        }
        used = [k for k, v in given.items() if v]
        if used:
            raise ValueError(
                f"direction='alliance_to_synchrony' does not take {used}: they describe "
                "synchrony as the predictor or alliance as the outcome."
            )
        if summary not in cube.data_vars:
            raise ValueError(
                f"The cube has no summary {summary!r}; it has {sorted(cube.data_vars)}."
            )
        cube, alliance = _swap_roles(cube, alliance, summary, segments, outcomes)
        names = {"summary": "alliance", "segments": outcomes, "outcomes": segments}
    data = _prepare_alliance_data(
        cube,
        alliance,
        **names,
        standardize=standardize,
        missing=missing,
        complete_on=complete_on,
        measurement_error=measurement_error,
        therapist=therapist,
        covariates=covariates,
        session_covariate=session_covariate,
        detrend=detrend,
        centering=centering,
        ceiling=ceiling,
        lag=lag,
        gaps=gaps,
    )
    options = {
        "multivariate": multivariate,
        "random_slopes": random_slopes,
        # "auto" resolved by the data's session numbers
        "session_covariate": _check_session_covariate(
            None if data.attrs["session_covariate"] == "None" else data.attrs["session_covariate"]
        ),
        "dyad_trends": dyad_trends,
        "likelihood": likelihood,
        "priors": priors,
    }
    logger.info(
        f"Sampling the alliance model ({data.sizes['obs']} sessions, "
        f"{data.sizes['dyad']} dyads, outcomes {list(outcomes)}) with {sampler}: "
        f"{chains} chains x {draws} draws after {tune} tuning steps."
    )
    tree = _sample_alliance(
        data, options, draws=draws, tune=tune, chains=chains, sampler=sampler, seed=seed
    )
    # the slopes' SDs too: when they mix badly, the betas' intervals are unreliable
    checked = ("beta", "alpha", "sigma_slope") if options["random_slopes"] else ("beta", "alpha")
    # 400: the bulk ESS below which an interval's ends are unstable (Vehtari et al., 2021)
    diagnostics = _diagnose(tree, checked, "alliance model", min_ess=_MIN_ESS_BETA)
    params = {
        "summary": summary,
        "segments": list(segments),
        "outcomes": list(outcomes),
        **options,
        "therapist": "therapist_idx" in data,
        "measurement_error": measurement_error,
        "detrend": detrend,
        "centering": centering,
        "covariates": list(covariates),
        "ceiling": ceiling if isinstance(ceiling, dict) else bool(ceiling),
        "lag": lag,
        "direction": direction,
        "rater": rater if rater is None or isinstance(rater, str) else list(rater),
        "gaps": gaps,
        "missing": missing,
        "complete_on": list(complete_on or segments),
        "standardize": standardize,
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
