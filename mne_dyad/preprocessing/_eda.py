"""EDA cleaning and tonic/phasic decomposition at the neurokit2 boundary.

Signals are converted from siemens to microsiemens for neurokit2 and back; gaps
(NaN) are bridged for processing and are gaps again in the result. New channels
are named ``<role>-clean``, ``<role>-tonic`` and ``<role>-phasic``.
"""

import warnings

import mne
import numpy as np
from mne.utils import _check_option, _validate_type, logger, verbose, warn

from ..io._session import _describe, _session_roles, _set_session_info, get_session_info
from ..utils._checks import _check_positive
from ..utils._docs import fill_doc
from ..utils._imports import _soft_import
from ..utils._signal import _bridge_gaps, _hint_high_rate

#: Below this rate neurokit2's default cleaning cannot apply its 3 Hz low-pass.
_MIN_CLEAN_SFREQ = 7.0
_DECOMPOSE_METHODS = ("highpass", "smoothmedian", "cvxeda")
_CLEAN_METHODS = ("neurokit", "biosppy", "none")


def _bridge(x):
    if not np.isfinite(x).any():
        raise ValueError("the signal is entirely missing (NaN)")
    return _bridge_gaps(x)


def _add_channels(raw, names, data):
    """Copy ``raw`` with new (or replaced) gsr channels."""
    out = raw.copy().load_data()
    existing = [n for n in names if n in out.ch_names]
    if existing:
        out.drop_channels(existing)
    info = mne.create_info(list(names), out.info["sfreq"], ["gsr"] * len(names))
    extra = mne.io.RawArray(np.asarray(data), info, first_samp=out.first_samp, verbose=False)
    with extra.info._unlock():
        extra.info["meas_date"] = out.info["meas_date"]
    out.add_channels([extra], force_update_info=True)
    return out


@verbose
@fill_doc
def clean_eda(raw, *, method="neurokit", roles=None, verbose=None):
    """Clean each role's EDA with neurokit2 (``<role>-clean`` channels).

    Parameters
    ----------
    raw : mne.io.Raw
        A session Raw (see :func:`mne_dyad.io.combine_dyad`).
    method : str
        ``"neurokit"`` (4th-order Butterworth low-pass at 3 Hz), ``"biosppy"``
        or ``"none"``. Below 7 Hz neurokit2 cannot low-pass at 3 Hz and returns
        the signal unfiltered: a warning says so (wristbands such as the E4
        already smooth their 4 Hz output).
    %(session_roles)s
    %(verbose)s

    Returns
    -------
    raw : mne.io.Raw
        A copy with ``<role>-clean`` channels added (siemens).
    """
    _validate_type(raw, mne.io.BaseRaw, "raw")
    _check_option("method", method, _CLEAN_METHODS)
    nk = _soft_import("neurokit2", "clean_eda")
    roles = _session_roles(raw, roles)
    sfreq = raw.info["sfreq"]
    _hint_high_rate(sfreq, _describe(raw))
    if method == "neurokit" and sfreq <= _MIN_CLEAN_SFREQ:
        warn(
            f"{_describe(raw)}: at {sfreq:g} Hz neurokit2's cleaning cannot low-pass at "
            "3 Hz (too close to the Nyquist frequency); the EDA is left unfiltered."
        )
    cleaned = []
    for role in roles:
        x = raw.get_data(picks=[raw.ch_names.index(role)])[0] * 1e6  # to microsiemens
        try:
            filled, missing = _bridge(x)
        except ValueError as exc:
            raise ValueError(f"{_describe(raw)}: the {role}'s EDA: {exc}.") from None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # neurokit2's own low-rate warning, said above
            # a copy: pandas/neurokit2 may hand back read-only arrays (pandas 3 copy-on-write)
            y = np.array(nk.eda_clean(filled, sampling_rate=sfreq, method=method), float)
        y[missing] = np.nan
        cleaned.append(y * 1e-6)
    out = _add_channels(raw, [f"{r}-clean" for r in roles], cleaned)
    _set_session_info(
        out, preprocessing={**get_session_info(raw).get("preprocessing", {}), "clean": method}
    )
    logger.info(f"Cleaned EDA of {list(roles)} with {method}.")
    return out


@verbose
@fill_doc
def decompose_eda(
    raw, *, method="highpass", signal="clean", smoothing=None, roles=None, verbose=None
):
    """Split each role's EDA into tonic and phasic parts with neurokit2.

    Parameters
    ----------
    raw : mne.io.Raw
        A session Raw.
    method : str
        The method of neurokit2's ``eda_phasic``: ``"highpass"`` (0.05 Hz high-pass,
        default), ``"smoothmedian"`` (a running median of ``smoothing``
        seconds), or ``"cvxeda"`` (convex optimisation; needs ``cvxopt``).
    signal : str
        ``"clean"`` uses the ``<role>-clean`` channels when present (else the raw
        EDA, with a log line), ``"raw"`` the role channels.
    smoothing : None | float
        Seconds of the running median of ``method="smoothmedian"`` (neurokit2's
        ``smoothing_factor``; default 4 s). The median must span more than a
        skin conductance response, or the tonic part takes in the responses'
        slow recovery and the phasic part keeps only their rises: with responses
        that recover over several seconds, try 8-10 s.
    %(session_roles)s
    %(verbose)s

    Returns
    -------
    raw : mne.io.Raw
        A copy with ``<role>-tonic`` and ``<role>-phasic`` channels (siemens).
    """
    _validate_type(raw, mne.io.BaseRaw, "raw")
    _check_option("method", method, _DECOMPOSE_METHODS)
    _check_option("signal", signal, ("clean", "raw"))
    kwargs = {}
    if smoothing is not None:
        if method != "smoothmedian":
            raise ValueError(
                f"smoothing sets the median window of method='smoothmedian'; it does "
                f"nothing for method={method!r}. Drop it or use method='smoothmedian'."
            )
        kwargs["smoothing_factor"] = _check_positive(smoothing, "smoothing")
    nk = _soft_import("neurokit2", "decompose_eda")
    if method == "cvxeda":
        _soft_import("cvxopt", "decompose_eda(method='cvxeda')")
    roles = _session_roles(raw, roles)
    sfreq = raw.info["sfreq"]
    _hint_high_rate(sfreq, _describe(raw))
    names, data = [], []
    for role in roles:
        source = f"{role}-clean" if signal == "clean" and f"{role}-clean" in raw.ch_names else role
        if signal == "clean" and source == role:
            logger.info(f"No {role}-clean channel: decomposing the raw EDA.")
        x = raw.get_data(picks=[raw.ch_names.index(source)])[0] * 1e6
        try:
            filled, missing = _bridge(x)
        except ValueError as exc:
            raise ValueError(f"{_describe(raw)}: the {role}'s EDA: {exc}.") from None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parts = nk.eda_phasic(filled, sampling_rate=sfreq, method=method, **kwargs)
        for part in ("tonic", "phasic"):
            # a writable copy: under copy-on-write a DataFrame column is a read-only view
            values = np.array(parts[f"EDA_{part.capitalize()}"], float)
            values[missing] = np.nan
            names.append(f"{role}-{part}")
            data.append(values * 1e-6)
    out = _add_channels(raw, names, data)
    _set_session_info(
        out,
        preprocessing={
            **get_session_info(raw).get("preprocessing", {}),
            "decompose": method,
            **({"smoothing_s": kwargs["smoothing_factor"]} if kwargs else {}),
        },
    )
    logger.info(f"Decomposed EDA of {list(roles)} into tonic and phasic ({method}).")
    return out
