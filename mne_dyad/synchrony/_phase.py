"""Phase synchrony: phase-locking value and mean 1 - sin(|dphi| / 2) per window."""

import warnings

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.signal import butter, hilbert, sosfiltfilt

from ..utils._checks import _check_positive
from ..utils._signal import _bridge_gaps
from ._kernels import _CONSTANT_RTOL, _n_windows
from ._registry import _SyncMethod


def _flat_mask(x, size):
    """Mark samples within ``size`` of a stretch of ``size`` samples where ``x`` is flat."""
    if x.size < size:
        return np.zeros(x.shape, bool)
    finite = x[np.isfinite(x)]
    tol = _CONSTANT_RTOL * np.abs(finite).max() if finite.size else 0.0
    view = sliding_window_view(x, size)
    with np.errstate(invalid="ignore"):
        flat = (np.nanmax(view, axis=1) - np.nanmin(view, axis=1)) <= tol
    # a window is flat; mark it plus the filter's settling time on both sides
    starts = np.flatnonzero(flat)
    mask = np.zeros(x.size + 1, int)
    np.add.at(mask, np.maximum(starts - size, 0), 1)
    np.add.at(mask, np.minimum(starts + 2 * size, x.size), -1)
    return np.cumsum(mask)[:-1] > 0


def _instantaneous_phase(x, sfreq, band, order=4):
    """Hilbert phase of ``x`` band-passed (zero-phase Butterworth) to ``band`` Hz.

    Gaps (NaN) are bridged by linear interpolation for filtering and are NaN again
    in the returned phase. Where the signal is flat for one period of the lower
    band edge, it has no phase: those samples, and one period on each side (the
    filter's settling time), are NaN.
    """
    missing = ~np.isfinite(x)
    if missing.all():
        return np.full(x.shape, np.nan)
    filled, _ = _bridge_gaps(x)
    sos = butter(order, band, btype="bandpass", fs=sfreq, output="sos")
    phase = np.angle(hilbert(sosfiltfilt(sos, filled - filled.mean())))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows
        flat = _flat_mask(x, max(int(round(sfreq / band[0])), 2))
    phase[missing | flat] = np.nan
    return phase


class _PhaseMethod(_SyncMethod):
    """Phase synchrony of band-passed signals (docs/methods.rst, section methods-other-indices)."""

    name = "phase"
    defaults = {"band": (0.05, 0.5), "window": 30.0, "step": 15.0}
    variables = {
        "plv": ("phase-locking value |mean exp(i dphi)|, averaged over windows", "1"),
        "phase_sync": ("mean 1 - sin(|dphi| / 2), averaged over windows", "1"),
        "n_windows": ("number of windows with a value", "1"),
    }

    def _validate(self, params):
        band = params["band"]
        if not (isinstance(band, (tuple, list)) and len(band) == 2):
            raise ValueError(f"band must be (low, high) in Hz, got {band!r}.")
        low, high = (_check_positive(b, "band") for b in band)
        if low >= high:
            raise ValueError(f"band must have low < high, got {band!r}.")
        params["band"] = (low, high)
        _check_positive(params["window"], "window")
        _check_positive(params["step"], "step")

    def samples(self, params, sfreq):
        if params["band"][1] >= sfreq / 2:
            raise ValueError(
                f"band={params['band']} reaches the Nyquist frequency ({sfreq / 2} Hz) of "
                "the data: lower its upper edge."
            )
        w = int(round(params["window"] * sfreq))
        s = int(round(params["step"] * sfreq))
        if w < 3 or s < 1:
            raise ValueError(f"window and step must be at least 3 and 1 samples at {sfreq} Hz.")
        return {"w": w, "s": s, **params}

    def min_samples(self, samples):
        return samples["w"]

    def describe_min(self, params):
        return f"one window ({params['window']} s)"

    def prepare(self, x, y, sfreq, samples):
        band = samples["band"]
        return _instantaneous_phase(x, sfreq, band), _instantaneous_phase(y, sfreq, band)

    def compute(self, x, y, sfreq, samples):
        w, s = samples["w"], samples["s"]
        K = _n_windows(x.size, w, 0, s)
        dphi = sliding_window_view(x - y, w)[: (K - 1) * s + 1 : s]
        missing = ~np.isfinite(dphi)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            plv = np.abs(np.nanmean(np.exp(1j * dphi), axis=1))
            wrapped = np.angle(np.exp(1j * dphi))
            sync = np.nanmean(1 - np.sin(np.abs(wrapped) / 2), axis=1)
        sparse = missing.sum(axis=1) > w / 2
        plv[sparse] = np.nan
        sync[sparse] = np.nan
        return plv, sync

    main_summary = "plv"

    def reduce(self, partial, summary):
        if summary not in ("plv", "phase_sync"):
            return None
        values = partial[0] if summary == "plv" else partial[1]
        finite = np.isfinite(values)
        return float(values[finite].sum()), int(finite.sum())

    def pool(self, partials, sfreq, samples):
        if not partials:
            return None
        plv = np.concatenate([p[0] for p in partials])
        sync = np.concatenate([p[1] for p in partials])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return {
                "plv": float(np.nanmean(plv)),
                "phase_sync": float(np.nanmean(sync)),
                "n_windows": float(np.isfinite(plv).sum()),
            }
