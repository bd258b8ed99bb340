"""Sampling error and reliability of a summary that is a mean over windows.

Consecutive windows share samples (a 30 s window moved by 15 s shares half of
them, more once the lags are counted) and skin conductance responses outlast a
step, so the window values of one annotation are an autocorrelated series and
``std / sqrt(n_windows)`` understates the standard error of their mean. See
docs/methods.rst, section methods-sampling-error.
"""

import numpy as np

#: Bounds of the pooled lag-1 autocorrelation: overlapping windows are not
#: negatively correlated, and near 1 the AR(1) variance factor explodes.
_RHO_BOUNDS = (0.0, 0.95)


def _ar1_factor(n, rho):
    """Return ``n * Var(mean of n AR(1) values) / Var(one value)``."""
    if n < 2 or rho == 0:
        return 1.0
    k = np.arange(1, n)
    return 1.0 + 2.0 * float(np.sum((1.0 - k / n) * rho**k))


def _window_mean_se(series):
    """Return the standard error of the mean of window values pooled over annotations.

    Each annotation's window values are modelled as an AR(1) series with a
    variance and lag-1 autocorrelation shared by the annotations of the cell and
    estimated from them pooled (deviations from each annotation's own mean; the
    autocorrelation is clipped to ``[0, 0.95]``). With ``n_a`` windows in
    annotation ``a`` and ``K = sum(n_a)``::

        Var(mean) = gamma0 / K**2 * sum_a n_a * (1 + 2 * sum_k (1 - k / n_a) * rho**k)

    Windows without a value (inside BAD spans) are left out; a lag-1 product is
    taken only where both windows have a value.

    Parameters
    ----------
    series : list of ndarray
        The window values of each annotation, in time order.

    Returns
    -------
    se : float
        NaN when fewer than two windows have a value.
    """
    series = [np.asarray(s, float) for s in series]
    finite = [np.isfinite(s) for s in series]
    counts = [int(f.sum()) for f in finite]
    total = sum(counts)
    if total < 2:
        return np.nan
    dev = [
        np.where(f, s - (s[f].mean() if f.any() else 0.0), np.nan)
        for s, f in zip(series, finite, strict=True)
    ]
    used = [d for d, n in zip(dev, counts, strict=True) if n > 0]
    dof = total - len(used)
    if dof < 1:  # one window per annotation: their spread about the grand mean
        values = np.concatenate([s[f] for s, f in zip(series, finite, strict=True)])
        return float(np.std(values, ddof=1) / np.sqrt(total))
    sq = sum(float(np.nansum(d**2)) for d in used)
    gamma0 = sq / dof
    if sq == 0:
        return 0.0
    lag1 = sum(float(np.nansum(d[1:] * d[:-1])) for d in used if d.size > 1)
    rho = float(np.clip(lag1 / sq, *_RHO_BOUNDS))
    var = gamma0 * sum(n * _ar1_factor(n, rho) for n in counts if n) / total**2
    return float(np.sqrt(var))
