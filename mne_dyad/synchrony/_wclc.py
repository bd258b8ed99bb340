"""Windowed cross-lagged correlation (WCLC) in the rMEA convention.

Also Boker's peak picking on the same windows.
"""

import warnings

import numpy as np
import xarray as xr
from mne.utils import _validate_type, verbose
from numpy.lib.stride_tricks import sliding_window_view

from ..utils._checks import _check_1d_pair, _check_positive, _is_int, _seconds_to_samples
from ..utils._docs import fill_doc
from ._kernels import _fisher_z, _lagged_corr, _n_windows
from ._registry import _check_not_empty, _SyncMethod
from ._sampling_error import _window_mean_se

#: Per-window summaries, in the order they are reported.
_WINDOW_SUMMARIES = (
    "lag0",
    "all_lags",
    "x_leads",
    "y_leads",
    "x_leads_0",
    "y_leads_0",
    "best_lag",
    "peak",
)

_SUMMARY_DOCS = {
    "lag0": ("synchrony at lag 0", "1"),
    "all_lags": ("synchrony averaged over all lags", "1"),
    "x_leads": ("synchrony averaged over lags where the first role leads", "1"),
    "y_leads": ("synchrony averaged over lags where the second role leads", "1"),
    "x_leads_0": ("synchrony averaged over lag 0 and lags where the first role leads", "1"),
    "y_leads_0": ("synchrony averaged over lag 0 and lags where the second role leads", "1"),
    "best_lag": ("lag of the maximal synchrony (positive: second role follows)", "s"),
    "peak": ("maximal synchrony over lags", "1"),
    "grand_mean": ("synchrony averaged over all windows and lags", "1"),
    "n_windows": ("number of windows with a value", "1"),
    "profile": ("synchrony per lag averaged over windows", "1"),
}


def _wclc_samples(sfreq, lag, window, step):
    sfreq = _check_positive(sfreq, "sfreq")
    L = _seconds_to_samples(lag, sfreq, "lag", minimum=0)
    w = _seconds_to_samples(window, sfreq, "window", minimum=3)
    s = _seconds_to_samples(step, sfreq, "step", minimum=1)
    return sfreq, w, L, s


def _transform(r, fisher_z, absolute):
    if fisher_z:
        return _fisher_z(r, absolute=absolute)
    return np.abs(r) if absolute else r


def _check_enough(n, sfreq, w, L, window, lag):
    if _n_windows(n, w, L, 1) < 1:
        raise ValueError(
            f"The signals have {n} samples ({n / sfreq:g} s), fewer than one "
            f"window plus the maximum lag ({w + L} samples = {window} s + {lag} s). "
            "Use a shorter window or lag, or a longer segment."
        )


@verbose
@fill_doc
def wclc(x, y, sfreq, *, lag, window, step, fisher_z=True, absolute=True, verbose=None):
    """Windowed cross-lagged correlation of two signals.

    Implements the rMEA convention (Kleinbub & Ramseyer 2020): window ``k``
    spans ``window + lag`` seconds from ``k * step``; at lag ``l >= 0`` the first
    ``window`` seconds of x are paired with y shifted by ``l``; at ``l < 0`` x is
    shifted instead. All windows and lags are computed at once (vectorised).
    The values equal rMEA's ``MEAccf`` table, except for slices in which x and y
    are identical: rMEA returns NA there, mne-dyad ``r = 1`` (z clipped to 10).

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
    _check_lag_window({"lag": lag, "window": window})
    _check_enough(x.size, sfreq, w, L, window, lag)
    r = _lagged_corr(x, y, w, L, s)
    _check_not_empty(r, x, y)
    values = _transform(r, fisher_z, absolute)
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


def _window_summaries(values, lags):
    """Per-window summaries of a (window, lag) array.

    Parameters
    ----------
    values : ndarray, shape (..., n_windows, n_lags)
        Synchrony per window and lag, lags ordered ``-L..L`` (leading dims: a batch).
    lags : ndarray, shape (n_lags,)
        Lag of each column in seconds.

    Returns
    -------
    summaries : dict of str to ndarray, shape (..., n_windows)
        ``lag0``, ``all_lags``, ``x_leads`` (lags > 0), ``y_leads`` (lags < 0),
        ``x_leads_0`` / ``y_leads_0`` (the same including lag 0), ``best_lag``
        (first lag of the maximum, in seconds) and ``peak``; rMEA's
        ``lag_zero``, ``all_lags``, ``s1_lead``, ``s2_lead``, ``s1_lead_0``,
        ``s2_lead_0`` and ``bestLag``.
    """
    L = (values.shape[-1] - 1) // 2
    finite = np.isfinite(values)
    nan = np.full(values.shape[:-1], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out = {
            "lag0": values[..., L].copy(),
            "all_lags": np.nanmean(values, axis=-1),
            "x_leads": np.nanmean(values[..., L + 1 :], axis=-1) if L else nan,
            "y_leads": np.nanmean(values[..., :L], axis=-1) if L else nan,
            "x_leads_0": np.nanmean(values[..., L:], axis=-1) if L else nan,
            "y_leads_0": np.nanmean(values[..., : L + 1], axis=-1) if L else nan,
            "peak": np.nanmax(values, axis=-1),
        }
    best = np.argmax(np.where(finite, values, -np.inf), axis=-1)
    out["best_lag"] = np.where(finite.any(axis=-1), np.asarray(lags)[best], np.nan)
    return {key: out[key] for key in _WINDOW_SUMMARIES}


def _split_block(samples):
    """Windows per block of the split-half: enough that blocks share few samples.

    Window ``k`` reads the samples ``[k * step, k * step + window + lag)``, so
    windows ``k`` and ``k + j`` share samples while ``j * step < window + lag``.
    Splitting by blocks of ``ceil((window + lag) / step)`` windows leaves only the
    windows at a block boundary overlapping a window of the other half, where
    alternate windows would overlap on both sides.
    """
    return max(1, int(np.ceil((samples["w"] + samples["L"]) / samples["s"])))


def _split_half(series, block):
    """Difference between the means of the first-half and second-half blocks of windows.

    Within each annotation, window ``k`` belongs to half ``(k // block) % 2``;
    each half's mean pools its windows over the annotations.
    """
    halves = [[], []]
    for values in series:
        parity = (np.arange(values.size) // block) % 2
        for h in (0, 1):
            halves[h].append(values[parity == h])
    means = []
    for h in (0, 1):
        v = np.concatenate(halves[h]) if halves[h] else np.array([])
        v = v[np.isfinite(v)]
        means.append(v.mean() if v.size else np.nan)
    return float(means[0] - means[1])


def _pool_windows(per_annotation, block=1):
    """Pool per-window summaries of several annotations into segment values.

    Parameters
    ----------
    per_annotation : list of (dict, ndarray, ndarray)
        For each annotation: the per-window summaries, and the per-lag sum and
        count of the finite (window, lag) values (see :func:`_lag_sums`).
    block : int
        Windows per block of the split-half (see :func:`_split_block`).

    Returns
    -------
    values : dict
        NaN-aware mean over all windows of all annotations (so each annotation
        weighs by its number of windows), its overlap-aware standard error
        ``<summary>_se``, the split-half difference ``<summary>_split``,
        ``grand_mean`` over all cells, ``n_windows`` (windows with a value) and
        ``profile`` (mean per lag).
    """
    if not per_annotation:
        return None
    out = {}
    lag_sum = np.sum([p[1] for p in per_annotation], axis=0)
    lag_count = np.sum([p[2] for p in per_annotation], axis=0)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        for key in _WINDOW_SUMMARIES:
            values = np.concatenate([p[0][key] for p in per_annotation])
            out[key] = float(np.nanmean(values))
            # standard error of the window mean, overlap-aware (measurement-error models)
            out[f"{key}_se"] = _window_mean_se([p[0][key] for p in per_annotation])
            # odd minus even blocks of windows (split-half reliability across cells)
            out[f"{key}_split"] = _split_half([p[0][key] for p in per_annotation], block)
        out["grand_mean"] = float(lag_sum.sum() / lag_count.sum())
        out["profile"] = lag_sum / lag_count
    out["n_windows"] = float(sum(int(np.isfinite(p[0]["all_lags"]).sum()) for p in per_annotation))
    return out


def _lag_sums(values):
    """Per-lag sum and count of the finite values of a (..., window, lag) array."""
    finite = np.isfinite(values)
    return np.where(finite, values, 0.0).sum(axis=-2), finite.sum(axis=-2)


def _check_lag_window(params):
    if params["lag"] > params["window"]:
        raise ValueError(
            f"lag={params['lag']} s is larger than window={params['window']} s: each lag "
            "would correlate slices that barely overlap the window. Use lag <= window."
        )


class _WCLCMethod(_SyncMethod):
    """Windowed cross-lagged correlation (docs/methods.rst, section methods-wclc)."""

    name = "wclc"
    defaults = {"lag": 10.0, "window": 30.0, "step": 15.0, "fisher_z": True, "absolute": True}
    variables = {
        **_SUMMARY_DOCS,
        **{
            f"{k}_se": (
                f"standard error over windows of: {_SUMMARY_DOCS[k][0]}",
                _SUMMARY_DOCS[k][1],
            )
            for k in _WINDOW_SUMMARIES
        },
        **{
            f"{k}_split": (
                "split-half difference (first minus second half of the blocks of "
                f"windows) of: {_SUMMARY_DOCS[k][0]}",
                _SUMMARY_DOCS[k][1],
            )
            for k in _WINDOW_SUMMARIES
        },
    }
    lag_variables = ("profile",)
    role_aliases = {
        "x_leads": "{x}_leads",
        "y_leads": "{y}_leads",
        "x_leads_se": "{x}_leads_se",
        "y_leads_se": "{y}_leads_se",
        "x_leads_split": "{x}_leads_split",
        "y_leads_split": "{y}_leads_split",
    }

    def _validate(self, params):
        for key in ("fisher_z", "absolute"):
            _validate_type(params[key], bool, key)
        _check_positive(params["lag"], "lag", allow_zero=True)
        _check_positive(params["window"], "window")
        _check_positive(params["step"], "step")
        _check_lag_window(params)

    def samples(self, params, sfreq):
        _, w, L, s = _wclc_samples(sfreq, params["lag"], params["window"], params["step"])
        return {"w": w, "L": L, "s": s, **params}

    def lags(self, samples, sfreq):
        return np.arange(-samples["L"], samples["L"] + 1) / sfreq

    def min_samples(self, samples):
        return samples["w"] + samples["L"]

    def describe_min(self, params):
        return f"one window plus the maximum lag ({params['window']} s + {params['lag']} s)"

    def compute(self, x, y, sfreq, samples):
        r = _lagged_corr(x, y, samples["w"], samples["L"], samples["s"])
        z = _transform(r, samples["fisher_z"], samples["absolute"])
        # keep per-window summaries and per-lag sums, not the window x lag table
        return (_window_summaries(z, self.lags(samples, sfreq)), *_lag_sums(z))

    def compute_batch(self, x, ys, sfreq, samples):
        # one kernel call for all rows: the same values as compute() row by row
        r = _lagged_corr(x, ys, samples["w"], samples["L"], samples["s"])
        z = _transform(r, samples["fisher_z"], samples["absolute"])
        per_window = _window_summaries(z, self.lags(samples, sfreq))
        lag_sum, lag_count = _lag_sums(z)
        return [
            ({key: v[i] for key, v in per_window.items()}, lag_sum[i], lag_count[i])
            for i in range(len(ys))
        ]

    def pool(self, partials, sfreq, samples):
        return _pool_windows(partials, _split_block(samples))

    main_summary = "all_lags"

    def reduce(self, partial, summary):
        per_window, lag_sum, lag_count = partial
        if summary == "grand_mean":
            return float(lag_sum.sum()), int(lag_count.sum())
        values = per_window.get(summary)
        if values is None:
            return None
        finite = np.isfinite(values)
        return float(values[finite].sum()), int(finite.sum())


def _moving_average(r, smooth):
    """Centred moving average over lags; NaN where the window is incomplete."""
    if smooth == 1:
        return r
    half = smooth // 2
    out = np.full_like(r, np.nan)
    out[:, half:-half] = sliding_window_view(r, smooth, axis=1).mean(axis=-1)
    return out


def _pick_peaks(r, lags):
    """Boker et al. (2002) peak picking per window.

    The peak of a window is the local maximum of ``r`` over lags (a lag whose
    value is at least that of both neighbours; the two end lags cannot be peaks)
    nearest to lag 0. At equal distance the larger value wins, then the negative
    lag. Windows without a peak are NaN.

    Parameters
    ----------
    r : ndarray, shape (n_windows, n_lags)
        Signed correlations per window and lag, lags ordered ``-L..L``.
    lags : ndarray, shape (n_lags,)
        Lag of each column in seconds.

    Returns
    -------
    peak_r, peak_lag : ndarray, shape (n_windows,)
        The value and lag (s) of each window's peak.
    """
    inner = r[:, 1:-1]
    with np.errstate(invalid="ignore"):
        is_peak = (inner >= r[:, :-2]) & (inner >= r[:, 2:])
    is_peak = np.pad(is_peak, ((0, 0), (1, 1)))
    L = (r.shape[1] - 1) // 2
    dist = np.abs(np.arange(r.shape[1]) - L).astype(float)
    score = np.where(is_peak, dist[None, :], np.inf)
    nearest = is_peak & (score == score.min(axis=1, keepdims=True))
    best = np.argmax(np.where(nearest, r, -np.inf), axis=1)
    has = is_peak.any(axis=1)
    rows = np.arange(r.shape[0])
    return (
        np.where(has, r[rows, best], np.nan),
        np.where(has, np.asarray(lags)[best], np.nan),
    )


@verbose
def peak_picking(x, y, sfreq, *, lag, window, step, smooth=1, verbose=None):
    """Windowed cross-correlation peak picking (Boker et al. 2002).

    In each window (as in :func:`wclc`) the signed, untransformed correlation
    over lags is optionally smoothed by a centred moving average of ``smooth``
    lags; the peak is the local maximum nearest to lag 0 (see
    :func:`mne_dyad.synchrony.wclc` for the window and lag conventions).

    Parameters
    ----------
    x, y : array-like, shape (n_times,)
        The two signals; NaN marks missing samples.
    sfreq : float
        Sampling rate in Hz.
    lag, window, step : float
        Maximum lag, window length and step, in seconds (``lag`` > 0).
    smooth : int
        Odd number of lags in the moving average (1: no smoothing).
    verbose : bool | str | int | None
        Control verbosity of the logging output.

    Returns
    -------
    peaks : xarray.Dataset, dims (window,)
        ``peak_r`` (the smoothed correlation at the peak) and ``peak_lag`` (s).

    Examples
    --------
    >>> import numpy as np
    >>> import mne_dyad as md
    >>> t = np.arange(800) / 8.0
    >>> x = np.sin(2 * np.pi * t / 10)
    >>> peaks = md.synchrony.peak_picking(x, np.roll(x, 8), 8.0, lag=3, window=20, step=10)
    >>> float(peaks.peak_lag.median())
    1.0
    """
    x, y = _check_1d_pair(x, y)
    method = _PeakPickingMethod()
    params = method.check_params({"lag": lag, "window": window, "step": step, "smooth": smooth})
    samples = method.samples(params, sfreq)
    _check_enough(x.size, sfreq, samples["w"], samples["L"], window, lag)
    peak_r, peak_lag, has_value = method.compute(x, y, sfreq, samples)
    _check_not_empty(np.where(has_value, 0.0, np.nan), x, y)
    starts = np.arange(peak_r.size) * samples["s"] / sfreq
    return xr.Dataset(
        {
            "peak_r": ("window", peak_r, {"units": "1", "long_name": "correlation at the peak"}),
            "peak_lag": ("window", peak_lag, {"units": "s", "long_name": "lag of the peak"}),
        },
        coords={"window": ("window", starts, {"units": "s"})},
    )


class _PeakPickingMethod(_WCLCMethod):
    """Boker et al. (2002) peak picking on windowed cross-correlations."""

    name = "peak_picking"
    defaults = {"lag": 10.0, "window": 30.0, "step": 15.0, "smooth": 1}
    variables = {
        "peak_r": ("correlation at the peak nearest to lag 0, averaged over windows", "1"),
        "peak_lag": ("lag of the peak nearest to lag 0, averaged over windows", "s"),
        "n_windows": ("number of windows with a value", "1"),
        "n_peaks": ("number of windows with a peak", "1"),
    }
    lag_variables = ()
    role_aliases = {}
    main_summary = "peak_r"
    # peaks are picked window by window: no batched kernel (compute() row by row)
    compute_batch = _SyncMethod.compute_batch

    def _validate(self, params):
        if not _is_int(params["smooth"]) or params["smooth"] < 1 or params["smooth"] % 2 == 0:
            raise ValueError(f"smooth must be an odd positive integer, got {params['smooth']!r}.")
        _check_positive(params["lag"], "lag")
        _check_positive(params["window"], "window")
        _check_positive(params["step"], "step")
        _check_lag_window(params)

    def samples(self, params, sfreq):
        _, w, L, s = _wclc_samples(sfreq, params["lag"], params["window"], params["step"])
        if L < 1:
            raise ValueError(f"lag={params['lag']} s is under one sample: peaks need lags.")
        if params["smooth"] > 2 * L + 1:
            raise ValueError(f"smooth={params['smooth']} exceeds the {2 * L + 1} lags.")
        return {"w": w, "L": L, "s": s, **params}

    def compute(self, x, y, sfreq, samples):
        r = _lagged_corr(x, y, samples["w"], samples["L"], samples["s"])
        has_value = np.isfinite(r).any(axis=1)
        r = _moving_average(r, samples["smooth"])
        return (*_pick_peaks(r, self.lags(samples, sfreq)), has_value)

    def reduce(self, partial, summary):
        if summary not in ("peak_r", "peak_lag"):
            return None
        values = partial[0] if summary == "peak_r" else partial[1]
        finite = np.isfinite(values)
        return float(values[finite].sum()), int(finite.sum())

    def pool(self, partials, sfreq, samples):
        if not partials:
            return None
        peak_r = np.concatenate([p[0] for p in partials])
        peak_lag = np.concatenate([p[1] for p in partials])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return {
                "peak_r": float(np.nanmean(peak_r)),
                "peak_lag": float(np.nanmean(peak_lag)),
                "n_windows": float(sum(int(p[2].sum()) for p in partials)),
                "n_peaks": float(np.isfinite(peak_r).sum()),
            }
