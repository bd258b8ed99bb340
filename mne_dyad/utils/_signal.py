"""Small signal helpers shared by resampling, filtering and neurokit2 calls."""

from fractions import Fraction

import numpy as np
from mne.utils import logger
from scipy.interpolate import CubicSpline
from scipy.signal import resample_poly

#: Rate (Hz) at which EDA is analysed: its content is below 1-2 Hz, so 8 Hz keeps it
#: whole with room for the anti-alias filter, and a faster recording only costs time.
ANALYSIS_SFREQ = 8.0


#: Rate (Hz) above which a direct call logs, once, that EDA is analysed at 8 Hz.
_HINT_ABOVE = 32.0
_HINTED = []


def _hint_high_rate(sfreq, where):
    """Log once per process that a lab-rate session is better analysed at 8 Hz.

    Called by the functions a user may run on a Raw at its native rate
    (:func:`~mne_dyad.synchrony.compute_synchrony`,
    :func:`~mne_dyad.preprocessing.clean_eda`,
    :func:`~mne_dyad.preprocessing.decompose_eda`).
    """
    if sfreq <= _HINT_ABOVE or _HINTED:
        return
    _HINTED.append(True)
    logger.info(
        f"{where} is at {sfreq:g} Hz. EDA's content is below about 2 Hz, so analysing "
        f"it at {ANALYSIS_SFREQ:g} Hz keeps all of it (and leaves out the sensor noise "
        f"above 4 Hz) for about {sfreq / ANALYSIS_SFREQ:.0f} times less work: combine the "
        "recordings with mne_dyad.io.combine_dyad(..., "
        f"sfreq={ANALYSIS_SFREQ:g}) (the default of read_study and mne-dyad run) or "
        f"raw.resample({ANALYSIS_SFREQ:g}, method='polyphase')."
    )


def _bridge_gaps(x):
    """Return ``x`` with NaN gaps linearly interpolated, and the mask of the gaps.

    Filters and resamplers cannot pass NaN; callers restore the gaps afterwards.
    ``x`` must hold at least one finite value.
    """
    missing = ~np.isfinite(x)
    if not missing.any():
        return x, missing
    idx = np.arange(x.size)
    return np.interp(idx, idx[~missing], x[~missing]), missing


def _ratio(sfreq_from, sfreq_to):
    """Return the rational resampling factor for ``sfreq_from`` -> ``sfreq_to`` (q <= 1000)."""
    return Fraction(sfreq_to / sfreq_from).limit_denominator(1000)


def _resample_nan_aware(data, sfreq_from, sfreq_to):
    """Polyphase-resample a 1-D signal, keeping gaps (NaN) as gaps.

    Gaps are bridged by linear interpolation for the filter; an output sample is
    missing when any input sample within one sample period (of the slower rate)
    of it is missing. The signal's least-squares line is taken out before
    filtering and put back after: the polyphase filter's phases differ in gain by
    about 1e-3 when upsampling, which on the tonic level of EDA (several uS)
    would add a ripple at the new Nyquist frequency.
    """
    if sfreq_from == sfreq_to:
        return data.copy()
    ratio = _ratio(sfreq_from, sfreq_to)
    filled, missing = _bridge_gaps(data)
    t_in = np.arange(data.size) / sfreq_from
    slope, intercept = np.polyfit(t_in, filled, 1) if data.size > 1 else (0.0, filled[0])
    out = resample_poly(
        filled - (intercept + slope * t_in), ratio.numerator, ratio.denominator, padtype="line"
    )
    out += intercept + slope * (
        np.arange(out.size) * ratio.denominator / ratio.numerator / sfreq_from
    )
    actual = sfreq_from * ratio.numerator / ratio.denominator
    if out.size > 3 and abs(actual / sfreq_to - 1) > 1e-12:
        # a rate the rational factor only approximates (999.95 Hz, a rate from
        # timestamps): onto the exact grid, or the samples drift (0.15 s in 50 min)
        t_have = np.arange(out.size) / actual
        t_want = np.arange(int(np.floor(t_have[-1] * sfreq_to + 1e-9)) + 1) / sfreq_to
        out = CubicSpline(t_have, out)(t_want)
    if missing.any():
        t_out = np.arange(out.size) / sfreq_to
        half = 1.0 / min(sfreq_from, sfreq_to)
        lo = np.searchsorted(t_in, t_out - half, "left")
        hi = np.searchsorted(t_in, t_out + half, "right")
        n_missing = np.concatenate([[0], np.cumsum(missing)])
        out[n_missing[hi] - n_missing[lo] > 0] = np.nan
    return out


def _analysis_signal(x, sfreq, target=ANALYSIS_SFREQ):
    """Bring one signal (any unit, NaN gaps) down to ``target`` Hz if it is faster.

    Returns the signal and its rate; slower signals are returned unchanged.
    """
    if sfreq <= target:
        return x, sfreq
    return _resample_nan_aware(x, sfreq, target), target
