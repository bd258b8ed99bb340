"""EDA units: what a plausible skin conductance in siemens looks like."""

import re

import numpy as np

#: Plausible EDA range in siemens: 0.001 to 1000 microsiemens.
_SIEMENS_MAX_MEDIAN = 1e-3
_SIEMENS_MIN_MAX = 1e-12
_EDA_NAME = re.compile(r"(eda|gsr|gsc|scl|scr|skin|electrodermal|conductance)", re.IGNORECASE)


def _siemens_problem(data):
    """Say why EDA values cannot be in siemens.

    Returns None, or ``(kind, value)`` with kind ``"empty"``, ``"microsiemens"``
    (the median is too large) or ``"twice"`` (the peak is too small).
    """
    finite = data[np.isfinite(data)]
    if finite.size == 0:
        return "empty", np.nan
    med = float(np.median(np.abs(finite)))
    peak = float(np.max(np.abs(finite)))
    if med > _SIEMENS_MAX_MEDIAN:
        return "microsiemens", med
    if 0 < peak < _SIEMENS_MIN_MAX:
        return "twice", peak
    return None
