"""Within-dyad / between-dyad decomposition of a predictor."""

import numpy as np
import xarray as xr
from mne.utils import _validate_type


def within_between(values, *, group="dyad", over="session"):
    """Split a predictor into within-group and between-group parts.

    ``P_w = P - mean_over(P)`` (the deviation of a session from its dyad's own
    mean) and ``P_b = mean_over(P) - grand mean`` (how the dyad's mean differs
    from the grand mean of all observed values). Missing values (NaN) are
    ignored in the means and stay NaN in ``P_w``.

    Parameters
    ----------
    values : xarray.DataArray
        The predictor with dims ``group`` and ``over`` (and possibly others, such
        as ``segment``, which are kept separate).
    group, over : str
        Dimension names of the grouping unit and of the repeated measures.

    Returns
    -------
    within, between : xarray.DataArray
        ``within`` has the dims of ``values``; ``between`` lacks ``over``.

    Examples
    --------
    >>> import xarray as xr
    >>> from mne_dyad.stats import within_between
    >>> p = xr.DataArray([[1.0, 3.0], [5.0, 7.0]], dims=("dyad", "session"))
    >>> w, b = within_between(p)
    >>> w.values.tolist(), b.values.tolist()
    ([[-1.0, 1.0], [-1.0, 1.0]], [-2.0, 2.0])
    """
    _validate_type(values, xr.DataArray, "values")
    for dim in (group, over):
        if dim not in values.dims:
            raise ValueError(f"values has no dimension {dim!r}; its dims are {values.dims}.")
    group_mean = values.mean(over, skipna=True)
    other = [d for d in values.dims if d not in (group, over)]
    grand = values.where(np.isfinite(values)).mean((group, over), skipna=True)
    if not other:
        grand = float(grand)
    return values - group_mean, group_mean - grand


def _dyad_operators(dyad_idx, n_dyads, session=None):
    """Weights that split a complete predictor into within/between parts, per dyad.

    Returns ``mean_w`` (dyad x obs: a dyad's mean), ``slope_w`` (dyad x obs: its
    least-squares slope on ``session``, zero without ``session`` and for dyads with
    fewer than three sessions or one session number) and ``offset`` (obs: the
    session minus its dyad's mean session). For a predictor ``p`` (obs, ...)::

        fitted = (mean_w @ p)[dyad_idx] + (slope_w @ p)[dyad_idx] * offset[:, None]
        within = p - fitted;  between = (mean_w @ p)[dyad_idx] - mean(p)

    The same weights serve numpy arrays and PyTensor graphs (``@`` or ``dot``).
    """
    n_obs = dyad_idx.size
    member = np.zeros((n_dyads, n_obs))
    member[dyad_idx, np.arange(n_obs)] = 1.0
    count = member.sum(axis=1, keepdims=True)
    mean_w = member / np.maximum(count, 1.0)
    slope_w = np.zeros((n_dyads, n_obs))
    offset = np.zeros(n_obs)
    if session is not None:
        session = np.asarray(session, dtype=float)
        offset = session - (mean_w @ session)[dyad_idx]
        ss = np.zeros(n_dyads)
        np.add.at(ss, dyad_idx, offset**2)
        ok = (count[:, 0] >= 3) & (ss > 1e-12 * max(float(ss.max(initial=0.0)), 1.0))
        slope_w[dyad_idx, np.arange(n_obs)] = np.where(
            ok[dyad_idx], offset / np.where(ok, ss, 1.0)[dyad_idx], 0.0
        )
    return mean_w, slope_w, offset


def _levels(P, dyad_idx, n_dyads, session=None, dot=np.dot):
    """Within and between parts of a complete ``P`` (obs, segment), in any array library.

    ``dot``: ``numpy.dot`` or ``pytensor.tensor.dot`` (the alliance model splits
    its latent synchrony with the same weights).
    """
    mean_w, slope_w, offset = _dyad_operators(dyad_idx, n_dyads, session)
    mean = dot(mean_w, P)[dyad_idx]
    fitted = mean
    if session is not None:
        fitted = fitted + dot(slope_w, P)[dyad_idx] * offset[:, None]
    return P - fitted, mean - P.mean(axis=0)


def _split_levels(P, dyad_idx, n_dyads, session=None):
    """Within/between parts of ``P`` (obs, segment), NaN-aware per segment.

    Each segment is split over its observed rows only: a dyad's mean (and, with
    ``session``, its own linear trend in session, :func:`_dyad_operators`) comes
    from its observed values, the grand mean from all observed values. Missing
    values stay NaN in ``within``; ``between`` is NaN for a dyad with no value of
    that segment.
    """
    within = np.full(P.shape, np.nan)
    between = np.full(P.shape, np.nan)
    for g in range(P.shape[1]):
        rows = np.flatnonzero(np.isfinite(P[:, g]))
        if not rows.size:
            continue
        sub = None if session is None else np.asarray(session, float)[rows]
        w, b = _levels(P[rows, g : g + 1], dyad_idx[rows], n_dyads, sub)
        within[rows, g] = w[:, 0]
        per_dyad = np.full(n_dyads, np.nan)  # a dyad's between part, for all its rows
        per_dyad[dyad_idx[rows]] = b[:, 0]
        between[:, g] = per_dyad[dyad_idx]
    return within, between
