"""Every preprocessing step of one session, as a run's ``[preprocessing]`` table sets it."""

import mne
import numpy as np
from mne.utils import _validate_type, logger, verbose, warn

from ..io._session import (
    _describe,
    _segment_spans,
    _session_roles,
    _set_session_info,
    get_session_info,
)
from ..utils._docs import fill_doc
from ._artifacts import annotate_artifacts
from ._eda import clean_eda, decompose_eda

#: ``{step: (function, the option a plain string sets)}``
_STEPS = {
    "clean": (clean_eda, "method"),
    "decompose": (decompose_eda, "method"),
    "artifacts": (annotate_artifacts, None),
}


def _step_options(step, value):
    """``None`` (skip) or the keyword options of one step from its setting."""
    func, string_key = _STEPS[step]
    if value is None or value is False:
        return None
    if value is True:
        return {}
    if isinstance(value, str) and string_key is not None:
        return {string_key: value}
    if isinstance(value, dict):
        return dict(value)
    kinds = "true, false, a method name or a table" if string_key else "true, false or a table"
    raise ValueError(f"{step} must be {kinds} of {func.__name__} options, got {value!r}.")


def _artifact_share(raw):
    """Share of the session's samples inside BAD_artifact annotations."""
    bad = np.zeros(raw.n_times, bool)
    for start, stop in _segment_spans(raw, "BAD_artifact"):
        bad[start:stop] = True
    return float(bad.mean()) if raw.n_times else 0.0


@verbose
@fill_doc
def preprocess_session(
    raw,
    *,
    clean=False,
    decompose=False,
    artifacts=True,
    max_artifact_share=0.2,
    roles=None,
    verbose=None,
):
    """Clean, decompose and mark artifacts in one session, as a run does.

    The steps run in this order, each on a copy: artifact marking
    (:func:`annotate_artifacts` on the raw EDA, its spans added as
    ``BAD_artifact`` annotations), cleaning (:func:`clean_eda`) and tonic/phasic
    decomposition (:func:`decompose_eda`). This is the ``[preprocessing]`` table
    of a run's configuration, applied to every session before synchrony.

    Parameters
    ----------
    raw : mne.io.Raw
        A session Raw (see :func:`mne_dyad.io.combine_dyad`).
    clean : bool | str | dict
        ``False`` (default) skips cleaning; ``True`` cleans with the defaults of
        :func:`clean_eda`, a string names its ``method`` and a dict gives its
        options (``{"method": "biosppy"}``).
    decompose : bool | str | dict
        The same for :func:`decompose_eda`: ``"highpass"``, ``"smoothmedian"``,
        ``"cvxeda"`` or a dict such as ``{"method": "smoothmedian", "smoothing":
        8.0}``. Needed for ``signal="tonic"`` or ``"phasic"`` synchrony.
    artifacts : bool | dict
        ``True`` (default) marks artifacts with the thresholds of
        :func:`annotate_artifacts`; a dict sets them (``{"jump": 10.0}``);
        ``False`` skips the step.
    max_artifact_share : float
        Share of a session (0 to 1) marked as artifact above which the session
        is flagged: a warning naming it, and ``flagged`` in its preprocessing
        record.
    %(session_roles)s
    %(verbose)s

    Returns
    -------
    raw : mne.io.Raw
        A copy with the new channels and annotations. Its session info
        (:func:`mne_dyad.io.get_session_info`) has a ``preprocessing`` record:
        the cleaning and decomposition methods, the artifact thresholds given,
        the share of the session marked as artifact and whether it was flagged.

    Examples
    --------
    >>> import mne_dyad as md
    >>> raw = md.simulation.simulate_session(duration=300, seed=0, dyad="D1", session=1)
    >>> out = md.preprocessing.preprocess_session(raw, decompose="highpass", verbose=False)
    >>> out.ch_names
    ['client', 'therapist', 'client-tonic', 'client-phasic', 'therapist-tonic', 'therapist-phasic']
    >>> md.io.get_session_info(out)["preprocessing"]["artifact_share"]
    0.0
    """
    _validate_type(raw, mne.io.BaseRaw, "raw")
    _validate_type(max_artifact_share, "numeric", "max_artifact_share")
    if not 0 <= max_artifact_share <= 1:
        raise ValueError(f"max_artifact_share must be between 0 and 1, got {max_artifact_share}.")
    options = {
        step: _step_options(step, value)
        for step, value in (("clean", clean), ("decompose", decompose), ("artifacts", artifacts))
    }
    roles = _session_roles(raw, roles)
    where = _describe(raw)
    out = raw.copy()
    record = {}
    if options["artifacts"] is not None:
        ann = annotate_artifacts(out, roles=roles, **options["artifacts"], verbose=False)
        if len(ann):
            out.set_annotations(out.annotations + ann)
        share = _artifact_share(out)
        record["artifacts"] = options["artifacts"]
        record["artifact_share"] = round(share, 6)
        record["flagged"] = bool(share > max_artifact_share)
        logger.info(f"{where}: {share:.1%} marked as artifact.")
        if record["flagged"]:
            warn(
                f"{where}: {share:.0%} of the session is marked as artifact, more than "
                f"max_artifact_share = {max_artifact_share:g}. Check the recording, or "
                "the thresholds ([preprocessing] artifacts in a run's configuration); "
                "synchrony leaves the marked spans out."
            )
    if options["clean"] is not None:
        out = clean_eda(out, roles=roles, **options["clean"], verbose=False)
    if options["decompose"] is not None:
        out = decompose_eda(out, roles=roles, **options["decompose"], verbose=False)
    done = get_session_info(out).get("preprocessing", {})
    _set_session_info(out, preprocessing={**done, **record})
    return out
