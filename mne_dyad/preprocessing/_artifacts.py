"""Marking EDA artifacts as BAD_artifact annotations."""

import mne
import numpy as np
from mne.utils import _validate_type, logger, verbose
from scipy.ndimage import maximum_filter1d, minimum_filter1d

from ..io._session import _describe, _session_annotations, _session_roles
from ..utils._checks import _check_positive
from ..utils._docs import fill_doc


def _spans(mask, sfreq):
    """Onsets and durations (s) of the True runs of ``mask``."""
    edges = np.diff(np.r_[0, mask.astype(int), 0])
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return starts / sfreq, (stops - starts) / sfreq


@verbose
@fill_doc
def annotate_artifacts(
    raw,
    *,
    flat=10.0,
    low=0.05,
    high=60.0,
    jump=5.0,
    margin=1.0,
    roles=None,
    verbose=None,
):
    """Find flat lines, out-of-range values and abrupt jumps in each role's EDA.

    Parameters
    ----------
    raw : mne.io.Raw
        A session Raw.
    flat : float
        Seconds without any change that count as a flat line (a detached
        electrode or a saturated amplifier).
    low, high : float
        Plausible EDA range in microsiemens; values outside are artifacts.
    jump : float
        Largest plausible change in microsiemens per second; faster changes
        (electrode movement) are artifacts.
    margin : float
        Seconds added on both sides of every artifact.
    %(session_roles)s
    %(verbose)s

    Returns
    -------
    annotations : mne.Annotations
        ``BAD_artifact`` spans (onsets in the Raw's time base); add them with
        ``raw.set_annotations(raw.annotations + annotations)``. The share of the
        recording marked per role is logged.

    Examples
    --------
    >>> import numpy as np, mne
    >>> import mne_dyad as md
    >>> raw = md.simulation.simulate_session(duration=300, seed=0)
    >>> data = raw.get_data()
    >>> data[1, 800:1000] = data[1, 800]  # 25 s flat line in the therapist's EDA
    >>> raw = mne.io.RawArray(data, raw.info, verbose=False)
    >>> ann = md.preprocessing.annotate_artifacts(raw, verbose=False)
    >>> [(round(o), round(d)) for o, d in zip(ann.onset, ann.duration)]
    [(99, 27)]
    """
    _validate_type(raw, mne.io.BaseRaw, "raw")
    for value, name in ((flat, "flat"), (jump, "jump"), (high, "high")):
        _check_positive(value, name)
    _check_positive(low, "low", allow_zero=True)
    _check_positive(margin, "margin", allow_zero=True)
    if low >= high:
        raise ValueError(f"low={low} must be below high={high} (microsiemens).")
    roles = _session_roles(raw, roles)
    sfreq = raw.info["sfreq"]
    n_flat = max(int(round(flat * sfreq)), 2)
    pad = int(round(margin * sfreq))
    total = np.zeros(raw.n_times, bool)
    for role in roles:
        x = raw.get_data(picks=[raw.ch_names.index(role)])[0] * 1e6
        finite = np.isfinite(x)
        bad = finite & ((x < low) | (x > high))
        step = np.abs(np.diff(x)) * sfreq
        bad[1:] |= np.nan_to_num(step) > jump
        filled = np.where(finite, x, 0.0)
        if x.size >= n_flat:
            ptp = maximum_filter1d(filled, n_flat, mode="nearest") - minimum_filter1d(
                filled, n_flat, mode="nearest"
            )
            flat_center = (ptp == 0) & finite
            bad |= maximum_filter1d(flat_center.astype(np.uint8), n_flat) > 0
        if pad:
            bad = maximum_filter1d(bad.astype(np.uint8), 2 * pad + 1) > 0
        logger.info(f"{_describe(raw)}: {bad.mean():.1%} of the {role}'s EDA is artifact.")
        total |= bad
    onsets, durations = _spans(total, sfreq)
    return _session_annotations(raw, onsets, durations, ["BAD_artifact"] * len(onsets))
