"""Marking EDA artifacts as BAD_artifact annotations."""

import mne
import numpy as np
from mne.utils import _validate_type, logger, verbose, warn
from scipy.ndimage import maximum_filter1d, minimum_filter1d

from ..io._session import _describe, _session_annotations, _session_roles
from ..utils._checks import _check_positive
from ..utils._docs import fill_doc
from ..utils._signal import _analysis_signal

#: Share of a role's recording marked as artifact above which a warning is emitted.
_WARN_SHARE = 0.5


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
    jump=10.0,
    margin=1.0,
    flat_tol=5e-4,
    roles=None,
    verbose=None,
):
    """Find flat lines, out-of-range values and abrupt jumps in each role's EDA.

    The tests run on the signal at the analysis rate (8 Hz): a faster recording is
    first low-passed and resampled (anti-aliased, gaps kept), so slopes are
    measured over 1/8 s and the same recording gives the same spans at 8, 32, 1000
    or 2000 Hz (within one analysis sample). Per-sample slopes at 2000 Hz would
    count one converter step (0.0015 uS in 0.5 ms, 3 uS/s) as a jump.

    Parameters
    ----------
    raw : mne.io.Raw
        A session Raw.
    flat : float
        Seconds without any change (peak-to-peak at most ``flat_tol``) that
        count as a flat line (a detached electrode or a saturated amplifier).
    low, high : float
        Plausible EDA range in microsiemens; values outside are artifacts.
    jump : float
        Largest plausible change in microsiemens per second; faster changes
        (electrode movement) are artifacts. The default, 10 uS/s, is the limit of
        Kleckner et al. (2018). Large skin conductance responses rise at up to
        about 5-6 uS/s (the steepest of the 256 recordings of ``mne-dyad demo``:
        5.6 uS/s); an abrupt step of 2.5 uS or more always exceeds 10 uS/s over
        1/8 s, whatever the recording rate.
    margin : float
        Seconds added on both sides of every artifact.
    flat_tol : float
        Largest peak-to-peak change in microsiemens that still counts as "no
        change" for ``flat``. The default, 0.0005 uS, is below one step of the
        common EDA converters (0.0009 uS for the Empatica E4, 0.0015 uS for a
        Biopac MP160 at its usual gain), so plain quantisation is not a flat line.
    %(session_roles)s
    %(verbose)s

    Returns
    -------
    annotations : mne.Annotations
        ``BAD_artifact`` spans (onsets in the Raw's time base); add them with
        ``raw.set_annotations(raw.annotations + annotations)``. The share of the
        recording marked per role is logged, and a warning is emitted when it
        exceeds half of the recording.

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
    _check_positive(flat_tol, "flat_tol", allow_zero=True)
    if low >= high:
        raise ValueError(f"low={low} must be below high={high} (microsiemens).")
    roles = _session_roles(raw, roles)
    sfreq = raw.info["sfreq"]
    total = None
    for role in roles:
        x = raw.get_data(picks=[raw.ch_names.index(role)])[0] * 1e6
        if not np.isfinite(x).any():
            logger.info(f"{_describe(raw)}: the {role}'s EDA is all missing (NaN).")
            continue
        # every test runs on the signal at (at most) the analysis rate, so a
        # threshold in uS/s or s means the same at 8 Hz and at 2000 Hz
        x, rate = _analysis_signal(x, sfreq)
        bad = _artifact_mask(x, rate, flat, low, high, jump, margin, flat_tol)
        share = bad.mean()
        logger.info(f"{_describe(raw)}: {share:.1%} of the {role}'s EDA is artifact.")
        if share > _WARN_SHARE:
            warn(
                f"{_describe(raw)}: {share:.0%} of the {role}'s EDA is marked as artifact. "
                "Synchrony is not computed inside artifact spans, so check the "
                f"thresholds (flat={flat} s, low={low} and high={high} uS, jump={jump} "
                "uS/s) or the recording."
            )
        total = bad if total is None else total | bad
    if total is None:  # no role has any data
        return _session_annotations(raw, [], [], [])
    onsets, durations = _spans(total, rate)
    if rate != sfreq:  # onto the Raw's samples, so no span ends past the recording
        stops = np.minimum(np.round((onsets + durations) * sfreq), raw.n_times)
        onsets = np.round(onsets * sfreq)
        onsets, durations = onsets / sfreq, (stops - onsets) / sfreq
    return _session_annotations(raw, onsets, durations, ["BAD_artifact"] * len(onsets))


def _artifact_mask(x, sfreq, flat, low, high, jump, margin, flat_tol):
    """Artifact samples of one signal in microsiemens (NaN = missing)."""
    n_flat = max(int(round(flat * sfreq)), 2)
    pad = int(round(margin * sfreq))
    finite = np.isfinite(x)
    bad = finite & ((x < low) | (x > high))
    step = np.abs(np.diff(x)) * sfreq
    bad[1:] |= np.nan_to_num(step) > jump
    filled = np.where(finite, x, 0.0)
    if x.size >= n_flat:
        ptp = maximum_filter1d(filled, n_flat, mode="nearest") - minimum_filter1d(
            filled, n_flat, mode="nearest"
        )
        flat_center = (ptp <= flat_tol) & finite
        bad |= maximum_filter1d(flat_center.astype(np.uint8), n_flat) > 0
    if pad:
        bad = maximum_filter1d(bad.astype(np.uint8), 2 * pad + 1) > 0
    return bad
