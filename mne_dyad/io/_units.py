"""EDA units: what a plausible skin conductance in siemens looks like."""

import re

import numpy as np

#: Plausible EDA in siemens. Real skin conductance lies between about 0.05 and 100
#: microsiemens (some people's tonic level is near 0.01 microsiemens, and an E4 reads
#: values near 0 while its electrodes settle), so the bounds below are far outside it:
#: a median above 1 millisiemens is microsiemens read as siemens ...
_SIEMENS_MAX_MEDIAN = 1e-3
#: ... and a typical (median non-zero) magnitude below 0.0001 microsiemens is siemens
#: read as microsiemens (2e-6 S becomes 2e-12 S), i.e. converted twice.
_SIEMENS_MIN_MEDIAN = 1e-10
#: A sample below -0.01 microsiemens is negative beyond amplifier noise around zero.
_SIEMENS_NEGATIVE = -1e-8
#: More than this share of such samples is a disconnected or offset channel.
_NEGATIVE_SHARE = 0.05
_EDA_NAME = re.compile(r"(eda|gsr|gsc|scl|scr|skin|electrodermal|conductance)", re.IGNORECASE)


def _siemens_problem(data):
    """Say why EDA values cannot be skin conductance in siemens.

    Returns None, or ``(kind, value)`` with kind

    ``"empty"``
        no finite value (value NaN);
    ``"negative"``
        the median is below 0 (value: the median in S), as from a disconnected
        electrode, an offset channel or a filtered signal;
    ``"negative_share"``
        more than 5 % of the finite samples are below -0.01 microsiemens (value:
        that share, 0 to 1);
    ``"microsiemens"``
        the median is above 1 mS (value: the median), i.e. too large;
    ``"twice"``
        the median magnitude of the non-zero samples is below 1e-10 S (value: that
        median), i.e. too small: siemens converted again as if in microsiemens.

    A channel of zeros is not flagged here (a flat signal is a quality problem,
    not a unit one).
    """
    finite = data[np.isfinite(data)]
    if finite.size == 0:
        return "empty", np.nan
    med = float(np.median(finite))
    if med < 0:
        return "negative", med
    share = float(np.mean(finite < _SIEMENS_NEGATIVE))
    if share > _NEGATIVE_SHARE:
        return "negative_share", share
    if med > _SIEMENS_MAX_MEDIAN:
        return "microsiemens", med
    nonzero = np.abs(finite[finite != 0])
    if nonzero.size:
        typical = float(np.median(nonzero))
        if typical < _SIEMENS_MIN_MEDIAN:
            return "twice", typical
    return None


#: The plausible range, as the unit errors state it.
_EDA_RANGE = "about 1e-7 to 1e-4 S"
#: Why a negative channel cannot be skin conductance, as every caller says it.
_NEGATIVE_CAUSE = (
    "but skin conductance cannot be negative. The electrode was probably disconnected "
    "or not in contact, or the channel holds an offset-corrected or filtered signal "
    "rather than raw skin conductance"
)


def _negative_finding(kind, value):
    """Word a ``"negative"`` or ``"negative_share"`` finding of :func:`_siemens_problem`."""
    if kind == "negative":
        return f"has a median of {value:.4g} S"
    return f"has {100 * value:.3g}% of its samples below -0.01 uS"
