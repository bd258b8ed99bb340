"""Slope concordance and the single session index (Marci & Orr 2006; Marci et al. 2007)."""

import warnings

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..utils._checks import _check_positive
from ._kernels import _lagged_corr, _n_windows
from ._registry import _SpanTooShort, _SyncMethod

_SSI_BOUND = 10.0


def _slopes(x, sfreq, w, s):
    """Least-squares slopes (unit per second) of ``w``-sample windows moved by ``s``.

    A window with more than half of its samples missing has a NaN slope; otherwise
    the slope is fitted to the samples present.
    """
    view = sliding_window_view(x, w)[::s]
    mask = np.isfinite(view)
    t = np.arange(w) / sfreq
    n = mask.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        t_mean = (mask * t).sum(axis=1) / n
        x_mean = np.where(mask, view, 0.0).sum(axis=1) / n
        dt = np.where(mask, t[None, :] - t_mean[:, None], 0.0)
        dx = np.where(mask, view - x_mean[:, None], 0.0)
        out = (dt * dx).sum(axis=1) / (dt * dt).sum(axis=1)
    out[n < max(2, w / 2)] = np.nan
    return out


def _ssi(r):
    """Single session index: ln(sum of positive r / |sum of negative r|), bounded +-10."""
    r = r[np.isfinite(r)]
    pos, neg = r[r > 0].sum(), -r[r < 0].sum()
    if pos == 0 and neg == 0:
        return np.nan
    if neg == 0:
        return _SSI_BOUND
    if pos == 0:
        return -_SSI_BOUND
    return float(np.clip(np.log(pos / neg), -_SSI_BOUND, _SSI_BOUND))


class _ConcordanceMethod(_SyncMethod):
    """Slope concordance / SSI (docs/methods.rst, section methods-other-indices)."""

    name = "concordance"
    defaults = {"slope_window": 5.0, "slope_step": 1.0, "corr_window": 15.0}
    variables = {
        "ssi": ("single session index ln(sum r+ / |sum r-|)", "1"),
        "pct_positive": ("percent of running slope correlations above zero", "%"),
        "mean_r": ("mean running correlation of the slopes", "1"),
        "n_windows": ("number of running correlation windows with a value", "1"),
    }

    def _validate(self, params):
        for key in self.defaults:
            _check_positive(params[key], key)
        if params["corr_window"] < 3 * params["slope_step"]:
            raise ValueError(
                f"corr_window={params['corr_window']} s must span at least 3 slopes "
                f"(3 * slope_step = {3 * params['slope_step']} s)."
            )

    def samples(self, params, sfreq):
        w = int(round(params["slope_window"] * sfreq))
        s = int(round(params["slope_step"] * sfreq))
        m = int(round(params["corr_window"] / params["slope_step"]))
        if w < 2 or s < 1:
            raise ValueError(
                f"slope_window={params['slope_window']} s and slope_step="
                f"{params['slope_step']} s must be at least 2 and 1 samples at {sfreq} Hz."
            )
        return {"w": w, "s": s, "m": m, **params}

    def min_samples(self, samples):
        return samples["w"] + (samples["m"] - 1) * samples["s"]

    def describe_min(self, params):
        return (
            f"one correlation window of slopes ({params['corr_window']} s + "
            f"{params['slope_window']} s)"
        )

    def compute(self, x, y, sfreq, samples):
        sx = _slopes(x, sfreq, samples["w"], samples["s"])
        sy = _slopes(y, sfreq, samples["w"], samples["s"])
        if _n_windows(sx.size, samples["m"], 0, 1) < 1:
            raise _SpanTooShort
        return _lagged_corr(sx, sy, samples["m"], 0, 1)[:, 0]

    main_summary = "ssi"

    def reduce(self, partial, summary):
        finite = partial[np.isfinite(partial)]
        if summary == "mean_r":
            return float(finite.sum()), finite.size
        if summary == "pct_positive":
            return 100.0 * float((finite > 0).sum()), finite.size
        return None

    def pool(self, partials, sfreq, samples):
        if not partials:
            return None
        r = np.concatenate(partials)
        finite = r[np.isfinite(r)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return {
                "ssi": _ssi(r),
                "pct_positive": 100.0 * float(np.mean(finite > 0)) if finite.size else np.nan,
                "mean_r": float(np.mean(finite)) if finite.size else np.nan,
                "n_windows": float(finite.size),
            }
