"""The session model: roles, segment spans, BAD masking and collections of sessions.

A *session* is an :class:`mne.io.Raw` with the two roles' EDA as ``gsr`` channels
(in siemens) and segments as annotations (see :func:`mne_dyad.io.combine_dyad`).
*Sessions* are a ``{(dyad, session): raw}`` mapping, or any study that holds one
in ``.raws`` (:func:`mne_dyad.io.read_study`,
:func:`mne_dyad.simulation.simulate_study`). Every stage that reads sessions asks
this module, so the rules live in one place.
"""

import json
import threading
import warnings
from collections.abc import Mapping

import mne
import numpy as np
from mne.utils import _validate_type, logger

from ..utils._warnings import _module_of


def _describe(raw, *, file=True):
    """Name a Raw for messages and titles.

    ``"dyad D01, session 2"`` for a session whose ids are known, then the file it
    came from (``"recording path"``, also for one person's recording), else
    ``"in-memory recording"``. ``file=False`` leaves the file out when the ids
    are known (plot titles).
    """
    meta = get_session_info(raw)
    ids = None
    if "dyad" in meta or "session" in meta:
        ids = f"dyad {meta.get('dyad', '?')}, session {meta.get('session', '?')}"
    fnames = [f for f in getattr(raw, "filenames", ()) if f]
    if not fnames and meta.get("source"):
        fnames = [meta["source"]]
    where = f"recording {fnames[0]!s}" if fnames else None
    if ids and where and file:
        return f"{ids} ({where})"
    return ids or where or "in-memory recording"


def get_session_info(raw):
    """Return the dyad/session metadata that mne-dyad stores in a Raw.

    mne-dyad keeps a JSON object in ``raw.info["description"]`` with keys such
    as ``dyad``, ``session``, ``therapist`` and ``roles``.

    Parameters
    ----------
    raw : mne.io.Raw
        A session Raw.

    Returns
    -------
    info : dict
        The stored metadata; empty if the description is not mne-dyad JSON.

    Examples
    --------
    >>> import mne_dyad as md
    >>> raw = md.simulation.simulate_session(duration=120, dyad="D01", session=1, seed=0)
    >>> info = md.io.get_session_info(raw)
    >>> info["dyad"], info["session"], info["roles"]
    ('D01', 1, ['client', 'therapist'])
    """
    _validate_type(raw, mne.io.BaseRaw, "raw")
    desc = raw.info.get("description")
    if not desc:
        return {}
    try:
        out = json.loads(desc)
    except (TypeError, ValueError):
        return {}
    return out if isinstance(out, dict) else {}


def _native_sfreq(raw):
    """``{role: rate}`` the session's recordings had before combining (empty if unknown)."""
    native = get_session_info(raw).get("alignment", {}).get("sfreq_in")
    return dict(native) if isinstance(native, dict) else {}


def _session_annotations(raw, onsets, durations, descriptions):
    """Annotations at session seconds (0 = first sample) on ``raw``'s own clock.

    With a ``meas_date``, MNE counts onsets from it (so the first sample sits at
    ``raw.first_time``); without one, ``orig_time=None`` onsets count from the
    first sample itself.
    """
    meas_date = raw.info["meas_date"]
    offset = raw.first_time if meas_date is not None else 0.0
    return mne.Annotations(
        np.asarray(onsets, float) + offset, durations, descriptions, orig_time=meas_date
    )


def _set_session_info(raw, **fields):
    """Merge fields into the JSON description of ``raw`` (in place, private)."""
    meta = get_session_info(raw)
    meta.update({k: v for k, v in fields.items() if v is not None})
    with raw.info._unlock():
        raw.info["description"] = json.dumps(meta, sort_keys=True, default=str)
    return raw


def _session_roles(raw, roles):
    """Return the two role channel names of a session Raw."""
    where = _describe(raw)
    if roles is None:
        roles = get_session_info(raw).get("roles")
    if roles is None:
        gsr = [raw.ch_names[i] for i in mne.pick_types(raw.info, gsr=True, exclude=[])]
        gsr = [ch for ch in gsr if "-" not in ch]
        if len(gsr) != 2:
            raise ValueError(
                f"Cannot tell the two roles of {where}: it has gsr channels {gsr}. "
                "Build it with mne_dyad.io.combine_dyad or pass roles=(first, second)."
            )
        roles = gsr
    roles = tuple(roles)
    missing = [r for r in roles if r not in raw.ch_names]
    if len(roles) != 2 or missing:
        raise ValueError(
            f"{where} has no channel(s) {missing or roles} for roles {roles}; its channels "
            f"are {raw.ch_names}. Pass roles= matching two channel names."
        )
    return roles


def _segment_spans(raw, label):
    """(start, stop) sample indices of annotations with this description."""
    ann = raw.annotations
    sfreq = raw.info["sfreq"]
    spans = []
    for onset, duration, desc in zip(
        ann.onset - raw.first_time, ann.duration, ann.description, strict=True
    ):
        if desc != label:
            continue
        start = max(int(round(onset * sfreq)), 0)
        stop = min(int(round((onset + duration) * sfreq)), raw.n_times)
        if stop > start:
            spans.append((start, stop))
    return spans


_SIGNALS = ("raw", "clean", "tonic", "phasic")


def _session_signals(raw, roles, signal="raw"):
    """Both roles' signals with samples inside BAD_* annotations set to NaN."""
    names = list(roles) if signal == "raw" else [f"{r}-{signal}" for r in roles]
    missing = [n for n in names if n not in raw.ch_names]
    if missing:
        step = "clean_eda" if signal == "clean" else "decompose_eda"
        raise ValueError(
            f"{_describe(raw)} has no {missing} channel(s) for signal={signal!r}: run "
            f"mne_dyad.preprocessing.{step} on it first."
        )
    picks = [raw.ch_names.index(n) for n in names]
    # MNE blanks every annotation whose description starts with "bad" (any case)
    data = raw.get_data(picks=picks, reject_by_annotation="NaN")
    n_bad = sum(d.lower().startswith("bad") for d in raw.annotations.description)
    if n_bad:
        logger.info(f"{_describe(raw)}: {n_bad} BAD span(s) blanked.")
    return data[0], data[1]


def _check_segments(segments):
    _validate_type(segments, (str, list, tuple), "segments")
    segments = (segments,) if isinstance(segments, str) else tuple(segments)
    if not segments or not all(isinstance(s, str) and s for s in segments):
        raise ValueError(f"segments must be non-empty strings, got {segments!r}.")
    if len(set(segments)) != len(segments):
        raise ValueError(f"segments must be unique, got {segments!r}.")
    return segments


def _sorted_ids(ids, what):
    try:
        return sorted(set(ids))
    except TypeError:
        raise TypeError(
            f"{what} ids must all be of one type (all str or all int), got "
            f"{sorted({type(i).__name__ for i in ids})}."
        ) from None


def _as_mapping(sessions):
    """Return the sessions mapping of a study (any object with ``raws``), else as is."""
    if not isinstance(sessions, Mapping) and hasattr(sessions, "raws"):
        return sessions.raws
    return sessions


def _as_sessions(sessions):
    """Return the validated ``{(dyad, session): raw}`` of a study or a mapping."""
    sessions = _as_mapping(sessions)
    _check_sessions(sessions)
    return sessions


# Sessions made where the work runs
# ---------------------------------
# A study read from a manifest (and a run's preprocessed sessions on top of it) can
# hand out, for each session not yet read here, a *reader*: a small picklable
# callable that reads (and preprocesses) the session wherever it is called. Steps
# that send sessions to other processes or to a dask cluster send readers, so the
# recordings are read on the workers and only results travel back. With the
# results come the reader's *news*: the warnings of reading and the session's facts
# (rates, preprocessing record), which the calling process keeps for the run's
# provenance.


#: held while a task reads a session with its warnings recorded, and while it
#: computes from that read: Python's warning filters are shared by the threads of a
#: process, and the compute path's ``catch_warnings`` blocks (neurokit2's warnings on
#: short signals, NaN slices) would hide or misfile the warnings another thread is
#: recording. A worker's threads thus make their sessions one at a time (re-entrant:
#: :func:`_made` takes it again inside a task that holds it).
_READING = threading.RLock()


def _is_lazy(sessions):
    """Whether ``sessions`` reads its sessions on demand (and can hand out readers)."""
    return hasattr(sessions, "_reader")


def _reader(sessions, key):
    """Return a picklable callable that makes ``sessions[key]`` where it is called.

    None when the session is already in memory here (a Raw of a plain mapping, or
    one read before): a task then carries that Raw.
    """
    return sessions._reader(key) if _is_lazy(sessions) else None


def _source(sessions, key, remote):
    """Return a task's source of a session: a reader if ``remote`` and one exists, or the Raw."""
    reader = _reader(sessions, key) if remote else None
    return sessions[key] if reader is None else reader


def _session_facts(raw):
    """Return what the calling process keeps of a session read elsewhere (for provenance)."""
    meta = get_session_info(raw)
    return {
        "sfreq": raw.info["sfreq"],
        "native": _native_sfreq(raw),
        "preprocessing": meta.get("preprocessing"),
    }


def _made(source):
    """Return ``(raw, news)`` of a task's session source (run where the task runs).

    A Raw is itself (``news`` None). A reader is called with its warnings recorded,
    not shown: ``news`` holds them (category, message, file and line, each once) and
    the session's facts, for :func:`_take_news` in the calling process.
    """
    if isinstance(source, mne.io.BaseRaw):
        return source, None
    # catch_warnings is process-wide: one read at a time, so that the tasks of a dask
    # worker that runs several threads do not record each other's reading warnings
    with _READING, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        raw = source()
    said = list(dict.fromkeys((w.category, str(w.message), w.filename, w.lineno) for w in caught))
    return raw, {"warnings": said, "facts": _session_facts(raw)}


def _take_news(sessions, key, news):
    """Keep the news of a session read elsewhere; show its warnings the first time only."""
    if news is None:
        return
    first = sessions._news(key, news) if _is_lazy(sessions) else True
    if first:
        # as a local read shows them, whatever the caller's verbose
        for category, message, filename, lineno in news["warnings"]:
            warnings.warn_explicit(message, category, filename, lineno, _module_of(filename))


def _facts(sessions, key):
    """Return a session's facts: from its news if it was read elsewhere only, else its Raw's."""
    known = sessions._known(key) if _is_lazy(sessions) else None
    return known if known is not None else _session_facts(sessions[key])


def _check_sessions(sessions):
    if not isinstance(sessions, Mapping):
        raise TypeError(
            "sessions must be a study (mne_dyad.io.read_study, "
            "mne_dyad.simulation.simulate_study) or a {(dyad, session): raw} mapping, "
            f"got {type(sessions).__name__}."
        )
    if not sessions:
        raise ValueError("sessions is empty: pass at least one {(dyad, session): raw} item.")
    for key in sessions:
        if not (isinstance(key, tuple) and len(key) == 2):
            raise ValueError(f"sessions keys must be (dyad, session) tuples, got {key!r}.")
        # a lazy study makes its Raws itself: checking them here would read them all
        if not _is_lazy(sessions):
            _validate_type(sessions[key], mne.io.BaseRaw, f"sessions[{key!r}]")
