"""Session arousal: skin conductance response rates and tonic levels per segment.

Arousal is the confound synchrony must be told apart from: partners who both
respond more often correlate more by chance. Per session, each role's EDA is
brought to a low analysis rate, low-passed, split into tonic and phasic parts by
neurokit2, and the skin conductance responses (SCRs) of the phasic part are
counted inside each segment.
"""

import warnings

import mne
import numpy as np
import xarray as xr
from mne.utils import _validate_type, logger, verbose, warn
from scipy.signal import butter, find_peaks, sosfiltfilt

from ..io._session import (
    _as_sessions,
    _check_segments,
    _describe,
    _segment_spans,
    _session_roles,
    _session_signals,
    _sorted_ids,
    get_session_info,
)
from ..utils._checks import _check_positive
from ..utils._docs import fill_doc
from ..utils._imports import _soft_import
from ..utils._signal import ANALYSIS_SFREQ as _ANALYSIS_SFREQ
from ..utils._signal import _analysis_signal, _bridge_gaps
from ._cells import _check_same_roles, _check_therapist, _cube_coords, _params_attr

#: Low-pass (Hz, 4th-order Butterworth, zero phase) before the decomposition: an
#: SCR rises over 1-3 s, while sensor noise would otherwise make peaks of 0.01 uS.
_LOWPASS = 0.5
#: Running median (s) of neurokit2's "smoothmedian" tonic: longer than an SCR and
#: its recovery. The "highpass" phasic rings around each response (0.05 Hz,
#: zero phase), which adds about one spurious response per minute.
_SMOOTHING = 10.0
#: Smallest SCR counted by a synchrony cube's arousal (uS), :func:`arousal`'s default.
_AMPLITUDE_MIN = 0.01
_VARIABLES = {
    "scr_rate": ("skin conductance responses per minute of the {role}", "1/min"),
    "tonic": ("mean tonic skin conductance level of the {role}", "uS"),
}


def _arousal_names(roles):
    """``{variable: (source, long_name, units)}`` of the arousal variables of a cube."""
    return {
        f"{role}_{key}": (f"{role}_{key}", long_name.format(role=role), units)
        for role in roles
        for key, (long_name, units) in _VARIABLES.items()
    }


def _scr_peaks(phasic, amplitude_min):
    """Peaks of the phasic signal that rise at least ``amplitude_min`` from their onset.

    neurokit2's ``eda_peaks(method="neurokit")`` definition (every local maximum;
    the onset is the last trough before it; the amplitude is peak minus onset),
    vectorised: neurokit2 looks up each onset with pandas, seconds per session
    when sensor noise makes thousands of tiny peaks.
    """
    peaks = find_peaks(phasic)[0]
    troughs = find_peaks(-phasic)[0]
    onset = np.searchsorted(troughs, peaks) - 1
    has_onset = onset >= 0
    peaks, onset = peaks[has_onset], troughs[onset[has_onset]]
    amplitude = phasic[peaks] - phasic[onset]
    return peaks[amplitude >= amplitude_min], amplitude[amplitude >= amplitude_min]


def _role_arousal(x, sfreq, amplitude_min, nk, what):
    """Tonic level (uS), SCR peak samples and usable mask of one role's EDA.

    ``x`` is in siemens at ``sfreq`` with BAD samples NaN; the outputs are on the
    analysis grid (rate ``fs``).
    """
    x, fs = _analysis_signal(x * 1e6, sfreq)  # to microsiemens for neurokit2
    good = np.isfinite(x)
    if not good.any():
        raise ValueError(
            f"{what} is entirely missing (NaN or inside BAD spans): it has no arousal. "
            "Drop the session or its BAD annotations."
        )
    filled, _ = _bridge_gaps(x)
    if fs > 2.2 * _LOWPASS:
        filled = sosfiltfilt(butter(4, _LOWPASS, fs=fs, output="sos"), filled)
    else:
        logger.info(f"{what}: at {fs:g} Hz the EDA is not low-passed at {_LOWPASS:g} Hz.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # neurokit2's own warnings on short signals
        parts = nk.eda_phasic(
            filled, sampling_rate=fs, method="smoothmedian", smoothing_factor=_SMOOTHING
        )
    # writable copies: pandas copy-on-write hands back read-only views
    tonic = np.array(parts["EDA_Tonic"], float)
    # the absolute threshold (uS): neurokit2's amplitude_min is a share of the
    # largest response of the session
    peaks, _ = _scr_peaks(np.array(parts["EDA_Phasic"], float), amplitude_min)
    tonic[~good] = np.nan
    return tonic, peaks, good, fs


def _grid_span(start, stop, sfreq, fs):
    """Analysis samples ``i`` with ``start / sfreq <= i / fs < stop / sfreq``."""
    ratio = fs / sfreq
    return int(np.ceil(start * ratio - 1e-9)), int(np.ceil(stop * ratio - 1e-9))


def _session_arousal(raw, segments, roles, amplitude_min):
    """SCR rate and mean tonic level of both roles in each segment of one session.

    The building block of :func:`arousal`, and of a synchrony cube that carries
    arousal along.

    Parameters
    ----------
    raw : mne.io.Raw
        A session Raw.
    segments : str | sequence of str
        Segment labels.
    roles : None | tuple of str
        The two role channels; by default those stored by ``combine_dyad``.
    amplitude_min : float
        Smallest SCR amplitude counted, in microsiemens.

    Returns
    -------
    values : xarray.Dataset, dims (segment,)
        ``<role>_scr_rate`` (SCRs per minute) and ``<role>_tonic`` (uS) for both
        roles, NaN for a segment with no annotation or no usable sample; attrs
        ``x_role`` and ``y_role``.
    """
    _validate_type(raw, mne.io.BaseRaw, "raw")
    segments = _check_segments(segments)
    roles = _session_roles(raw, roles)
    amplitude_min = _check_positive(amplitude_min, "amplitude_min", allow_zero=True)
    nk = _soft_import("neurokit2", "arousal")
    where = _describe(raw)
    sfreq = raw.info["sfreq"]
    signals = _session_signals(raw, roles, "raw")  # BAD spans are NaN
    spans = {label: _segment_spans(raw, label) for label in segments}
    for label in segments:
        if not spans[label]:
            logger.info(f"{where} has no {label!r} segment; its arousal is NaN.")
    data = {}
    for role, x in zip(roles, signals, strict=True):
        tonic, peaks, good, fs = _role_arousal(
            x, sfreq, amplitude_min, nk, f"{where}: the {role}'s EDA"
        )
        is_peak = np.zeros(good.size, bool)
        is_peak[peaks] = True
        rate, level = np.full(len(segments), np.nan), np.full(len(segments), np.nan)
        for k, label in enumerate(segments):
            inside = np.zeros(good.size, bool)
            for start, stop in spans[label]:
                a, b = _grid_span(start, stop, sfreq, fs)
                inside[a:b] = True
            inside &= good
            if not inside.any():
                if spans[label]:
                    warn(
                        f"{where}: the {role}'s EDA has no usable sample in the {label!r} "
                        "segment(s) (all inside BAD spans or missing); its arousal is NaN."
                    )
                continue
            minutes = inside.sum() / fs / 60.0
            rate[k] = (is_peak & inside).sum() / minutes
            level[k] = tonic[inside].mean()
        for key, values in (("scr_rate", rate), ("tonic", level)):
            long_name, units = _VARIABLES[key]
            attrs = {"long_name": long_name.format(role=role), "units": units}
            data[f"{role}_{key}"] = ("segment", values, attrs)
    ds = xr.Dataset(data, coords={"segment": ("segment", np.array(segments, dtype=object))})
    ds.attrs["x_role"], ds.attrs["y_role"] = roles
    return ds


@verbose
@fill_doc
def arousal(
    sessions,
    *,
    segments=("IM", "CB"),
    roles=None,
    amplitude_min=_AMPLITUDE_MIN,
    n_jobs=1,
    verbose=None,
):
    """Count skin conductance responses and average the tonic level per segment.

    For each session and role, the EDA (BAD spans bridged) is brought to the
    analysis rate of 8 Hz when it is faster (anti-aliased polyphase resampling,
    so 1000-2000 Hz sessions cost little more than 8-Hz ones), low-passed at
    0.5 Hz (4th-order Butterworth, zero phase) against sensor noise, and split
    into tonic and phasic parts by neurokit2 over the whole session
    (``eda_phasic`` with ``method="smoothmedian"``, a 10 s running median: the
    high-pass phasic rings around each response and adds about one spurious
    response per minute). The skin conductance responses (SCRs) are the peaks of
    the phasic part found as neurokit2's ``eda_peaks`` finds them (onset, peak,
    amplitude = peak minus onset), kept when the amplitude is at least
    ``amplitude_min`` microsiemens (neurokit2's own ``amplitude_min`` is a share
    of the largest response); a response counts in the segment that holds its
    peak. Samples inside ``BAD_*`` annotations count
    neither as responses nor as time.

    Parameters
    ----------
    %(sessions)s
    segments : str | sequence of str
        Annotation descriptions to measure arousal in (for example
        ``("IM", "CB")``); several annotations of one label are pooled.
    %(session_roles)s
    amplitude_min : float
        Smallest SCR amplitude counted, in microsiemens (default 0.01 uS).
    %(n_jobs)s
    %(verbose)s

    Returns
    -------
    arousal : xarray.Dataset, dims (dyad, session, segment)
        ``<role>_scr_rate`` (SCRs per minute inside the segment's usable
        time) and ``<role>_tonic`` (mean tonic level, uS) for both roles, for
        example ``client_scr_rate`` and ``therapist_tonic``; coordinates as in
        :func:`~mne_dyad.synchrony_cube`. Missing sessions and segments, and
        segments entirely inside BAD spans, are NaN.

    Examples
    --------
    >>> import mne_dyad as md
    >>> study = md.simulation.simulate_study(n_dyads=2, n_sessions=2, n_usable=3,
    ...                                      duration=300, seed=0)
    >>> ds = md.synchrony.arousal(study, verbose=False)
    >>> dict(ds.client_scr_rate.sizes), ds.client_tonic.attrs["units"]
    ({'dyad': 2, 'session': 2, 'segment': 2}, 'uS')
    """
    sessions = _as_sessions(sessions)
    segments = _check_segments(segments)
    amplitude_min = _check_positive(amplitude_min, "amplitude_min", allow_zero=True)
    _soft_import("neurokit2", "arousal")
    keys = list(sessions)
    logger.info(f"Measuring arousal in {len(keys)} sessions, segments {list(segments)}.")
    parallel, run, _ = mne.parallel.parallel_func(_session_arousal, n_jobs, total=len(keys))
    results = parallel(run(sessions[k], segments, roles, amplitude_min) for k in keys)
    dyads = _sorted_ids([k[0] for k in keys], "dyad")
    session_ids = _sorted_ids([k[1] for k in keys], "session")
    first_roles = (results[0].attrs["x_role"], results[0].attrs["y_role"])
    arrays = {
        var: np.full((len(dyads), len(session_ids), len(segments)), np.nan)
        for var in results[0].data_vars
    }
    therapists = {}
    for key, res in zip(keys, results, strict=True):
        _check_same_roles(key, (res.attrs["x_role"], res.attrs["y_role"]), first_roles)
        i, j = dyads.index(key[0]), session_ids.index(key[1])
        for var, arr in arrays.items():
            arr[i, j] = res[var].values
        meta = get_session_info(sessions[key])
        if "therapist" in meta:
            _check_therapist(therapists, key[0], meta["therapist"])
    out = xr.Dataset(
        {
            var: (("dyad", "session", "segment"), arr, results[0][var].attrs)
            for var, arr in arrays.items()
        },
        coords=_cube_coords(dyads, session_ids, segments, None, therapists),
    )
    params = {
        "amplitude_min_uS": amplitude_min,
        "analysis_sfreq": _ANALYSIS_SFREQ,
        "lowpass": _LOWPASS,
        "decompose": "smoothmedian",
        "smoothing_s": _SMOOTHING,
    }
    out.attrs.update(
        mne_dyad_params=_params_attr("arousal", segments, first_roles, params),
        x_role=first_roles[0],
        y_role=first_roles[1],
        title="mne-dyad session arousal",
    )
    return out
