"""Windowed cross-lagged correlation (WCLC) in the rMEA convention."""

import warnings

import numpy as np
import xarray as xr
from mne.utils import _validate_type, verbose

from ..utils._checks import _check_1d_pair, _check_positive, _seconds_to_samples
from ..utils._docs import fill_doc
from ._kernels import fisher_z as _fisher_z
from ._kernels import lagged_corr, n_windows

#: Per-window summaries, in the order they are reported.
WINDOW_SUMMARIES = ("lag0", "all_lags", "x_leads", "y_leads", "best_lag", "peak")

SUMMARY_DOCS = {
    "lag0": ("synchrony at lag 0", "1"),
    "all_lags": ("synchrony averaged over all lags", "1"),
    "x_leads": ("synchrony averaged over lags where the first role leads", "1"),
    "y_leads": ("synchrony averaged over lags where the second role leads", "1"),
    "best_lag": ("lag of the maximal synchrony (positive: second role follows)", "s"),
    "peak": ("maximal synchrony over lags", "1"),
    "grand_mean": ("synchrony averaged over all windows and lags", "1"),
    "n_windows": ("number of windows with a value", "1"),
}


def _wclc_samples(sfreq, lag, window, step):
    sfreq = _check_positive(sfreq, "sfreq")
    L = _seconds_to_samples(lag, sfreq, "lag", minimum=0)
    w = _seconds_to_samples(window, sfreq, "window", minimum=3)
    s = _seconds_to_samples(step, sfreq, "step", minimum=1)
    return sfreq, w, L, s


@verbose
@fill_doc
def wclc(x, y, sfreq, *, lag, window, step, fisher_z=True, absolute=True, verbose=None):
    """Windowed cross-lagged correlation of two signals.

    Implements the rMEA convention (Kleinbub & Ramseyer 2020): window ``k``
    spans ``window + lag`` seconds from ``k * step``; at lag ``l >= 0`` the first
    ``window`` seconds of x are paired with y shifted by ``l``; at ``l < 0`` x is
    shifted instead. All windows and lags are computed at once (vectorised).

    Parameters
    ----------
    x, y : array-like, shape (n_times,)
        The two signals in the same unit; NaN marks missing samples. A window
        with more than half of its samples missing in x or in y is NaN.
    sfreq : float
        Sampling rate in Hz.
    %(wclc_params)s
    %(verbose)s

    Returns
    -------
    sync : xarray.DataArray, dims (window, lag)
        Synchrony per window and lag. Coordinates: ``window`` (start of each
        window in seconds) and ``lag`` in seconds (positive: y follows x).

    Examples
    --------
    >>> import numpy as np
    >>> import mne_dyad as md
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal(400)
    >>> y = np.roll(x, 4)  # y repeats x 0.5 s later
    >>> sync = md.synchrony.wclc(x, y, 8.0, lag=1.0, window=10.0, step=5.0)
    >>> float(sync.mean("window").idxmax("lag"))
    0.5
    """
    x, y = _check_1d_pair(x, y)
    _validate_type(fisher_z, bool, "fisher_z")
    _validate_type(absolute, bool, "absolute")
    sfreq, w, L, s = _wclc_samples(sfreq, lag, window, step)
    if n_windows(x.size, w, L, s) < 1:
        raise ValueError(
            f"The signals have {x.size} samples ({x.size / sfreq:g} s), fewer than one "
            f"window plus the maximum lag ({w + L} samples = {window} s + {lag} s). "
            "Use a shorter window or lag, or a longer segment."
        )
    r = lagged_corr(x, y, w, L, s)
    values = _fisher_z(r, absolute=absolute) if fisher_z else (np.abs(r) if absolute else r)
    name = "|z|" if fisher_z and absolute else "z" if fisher_z else "|r|" if absolute else "r"
    return xr.DataArray(
        values,
        dims=("window", "lag"),
        coords={
            "window": ("window", np.arange(r.shape[0]) * s / sfreq, {"units": "s"}),
            "lag": ("lag", np.arange(-L, L + 1) / sfreq, {"units": "s"}),
        },
        name="wclc",
        attrs={
            "units": "1",
            "long_name": f"windowed cross-lagged correlation ({name})",
            "sfreq": sfreq,
            "lag_s": float(lag),
            "window_s": float(window),
            "step_s": float(step),
            "fisher_z": int(fisher_z),
            "absolute": int(absolute),
        },
    )


def window_summaries(values, lags):
    """Per-window summaries of a (window, lag) array.

    Parameters
    ----------
    values : ndarray, shape (n_windows, n_lags)
        Synchrony per window and lag, lags ordered ``-L..L``.
    lags : ndarray, shape (n_lags,)
        Lag of each column in seconds.

    Returns
    -------
    summaries : dict of str to ndarray, shape (n_windows,)
        ``lag0``, ``all_lags``, ``x_leads`` (lags > 0), ``y_leads`` (lags < 0),
        ``best_lag`` (first lag of the maximum, in seconds) and ``peak``.
    """
    L = (values.shape[1] - 1) // 2
    finite = np.isfinite(values)
    any_finite = finite.any(axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out = {
            "lag0": values[:, L].copy(),
            "all_lags": np.nanmean(values, axis=1),
            "x_leads": np.nanmean(values[:, L + 1 :], axis=1)
            if L
            else np.full(values.shape[0], np.nan),
            "y_leads": np.nanmean(values[:, :L], axis=1) if L else np.full(values.shape[0], np.nan),
            "peak": np.nanmax(values, axis=1),
        }
    best = np.argmax(np.where(finite, values, -np.inf), axis=1)
    out["best_lag"] = np.where(any_finite, np.asarray(lags)[best], np.nan)
    return {key: out[key] for key in WINDOW_SUMMARIES}


def pool_windows(per_annotation):
    """Pool per-window summaries of several annotations into segment values.

    Parameters
    ----------
    per_annotation : list of (dict, ndarray)
        For each annotation, the per-window summaries and the (window, lag) values.

    Returns
    -------
    values : dict of str to float
        NaN-aware mean over all windows of all annotations (so each annotation
        weighs by its number of windows), ``grand_mean`` over all cells and
        ``n_windows``, the number of windows with a value.
    """
    if not per_annotation:
        out = {key: np.nan for key in WINDOW_SUMMARIES}
        out.update(grand_mean=np.nan, n_windows=0.0)
        return out
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for key in WINDOW_SUMMARIES:
            out[key] = float(np.nanmean(np.concatenate([s[key] for s, _ in per_annotation])))
        cells = np.concatenate([v.ravel() for _, v in per_annotation])
        out["grand_mean"] = float(np.nanmean(cells))
    out["n_windows"] = float(sum(int(np.isfinite(s["all_lags"]).sum()) for s, _ in per_annotation))
    return out
