"""Sampling error and reliability of a summary that is a mean over windows.

Consecutive windows share samples (a 30 s window moved by 15 s shares half of
them, more once the lags are counted) and skin conductance responses outlast a
step, so the window values of one annotation are an autocorrelated series and
``std / sqrt(n_windows)`` understates the standard error of their mean. See
docs/methods.rst, section methods-sampling-error.
"""

import numpy as np

#: Bounds of the pooled lag-1 autocorrelation: a noisy estimate may be negative
#: (clipping at 0 would bias it upward), and near 1 the AR(1) factor explodes.
_RHO_BOUNDS = (-0.5, 0.95)


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
    estimated from them pooled (deviations from each annotation's own mean). With
    ``n_a`` windows in annotation ``a``, ``K = sum(n_a)`` and
    ``f_n(rho) = 1 + 2 * sum_k (1 - k / n) * rho**k``::

        Var(mean) = gamma0 / K**2 * sum_a n_a * f_{n_a}(rho)

    Both estimates are corrected for centring each short series on its own mean:
    ``rho`` gains ``A / K`` (``A`` annotations; clipped to ``[-0.5, 0.95]``) and
    ``gamma0`` divides the squared deviations by ``sum_a (n_a - f_{n_a}(rho))``
    instead of ``K - A``. See docs/methods.rst, section methods-sampling-error.

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
    if sq == 0:
        return 0.0
    lag1 = sum(float(np.nansum(d[1:] * d[:-1])) for d in used if d.size > 1)
    rho = _debiased_rho(lag1 / sq, len(used), total)
    # deviations from each annotation's own mean hold n_a - f_a values' worth of
    # the variance, not n_a - 1, when the windows are autocorrelated (bounded: at
    # most a 4-fold inflation where a short series is strongly autocorrelated)
    factors = [(n, _ar1_factor(n, rho)) for n in counts if n]
    kept = sum(n - f for n, f in factors)
    gamma0 = sq / max(kept, 0.25 * dof)
    var = gamma0 * sum(n * f for n, f in factors) / total**2
    return float(np.sqrt(var))


def _debiased_rho(rho_hat, n_series, total):
    """Lag-1 autocorrelation corrected for its small-sample bias, clipped.

    Around each series' own mean the lag-1 estimate is biased low by about ``1 / n``
    for ``n`` windows (the white-noise bias; the window values' autocorrelation is
    small, 0.1 to 0.2); ``n_series`` series of ``total`` windows in all add
    ``n_series / total``. The AR(1) form of the bias, ``(1 + 4 rho) / n`` (Marriott &
    Pope, 1954), over-corrects in replicate simulations: the window values are
    closer to a moving average than to AR(1).
    """
    return float(np.clip(rho_hat + n_series / total, *_RHO_BOUNDS))
