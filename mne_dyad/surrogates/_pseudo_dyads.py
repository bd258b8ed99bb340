"""Pseudo-dyads: each client paired with another dyad's therapist (roles kept)."""

import numpy as np
import xarray as xr
from mne.utils import verbose

from ..io._session import _as_sessions, _check_segments, _segment_spans, _sorted_ids
from ..utils._checks import _check_rng
from ..utils._docs import fill_doc
from ._shuffle import _check_n


def _labels_present(sessions, segments):
    return {key: {g for g in segments if _segment_spans(raw, g)} for key, raw in sessions.items()}


def _draw_partners(present, segments, n_surrogates, rng):
    """``{(key, label): [partner key] * n_surrogates}`` with partner dyad != own dyad."""
    partners = {}
    for label in segments:
        eligible = [k for k in present if label in present[k]]
        for key in eligible:
            candidates = [k for k in eligible if k[0] != key[0]]
            if not candidates:
                raise ValueError(
                    f"Pseudo-dyads for dyad {key[0]}, session {key[1]} need another dyad "
                    f"with a {label!r} segment; there is none. Add dyads or use a "
                    "within-session surrogate kind."
                )
            picks = rng.integers(0, len(candidates), n_surrogates)
            partners[(key, label)] = [candidates[i] for i in picks]
    return partners


@verbose
@fill_doc
def pseudo_dyads(sessions, *, segments=("IM", "CB"), n_surrogates=100, seed=None, verbose=None):
    """Draw pseudo-dyad partners: the first role of one dyad, the second of another.

    For each session and segment label, each surrogate pairs the session's first
    role (client) with the second role (therapist) of a randomly drawn session
    of a *different* dyad that has the same segment label. Roles are kept; the
    signals are truncated to the shorter length when synchrony is computed (see
    :func:`compare_with_surrogates`).

    Parameters
    ----------
    %(sessions)s
    segments : str | sequence of str
        Segment labels to pair.
    n_surrogates : int
        Partners per session and label.
    seed : None | int | numpy.random.Generator
        Random seed.
    verbose : bool | str | int | None
        Control verbosity of the logging output.

    Returns
    -------
    partners : xarray.Dataset, dims (dyad, session, segment, surrogate)
        ``partner_dyad`` and ``partner_session`` of each surrogate (empty string
        and -1 where the session or label does not exist).

    Examples
    --------
    >>> import mne_dyad as md
    >>> study = md.simulation.simulate_study(n_dyads=3, n_sessions=2, n_usable=4,
    ...                                      duration=300, seed=0)
    >>> p = md.surrogates.pseudo_dyads(study, n_surrogates=5, seed=1)
    >>> bool((p.partner_dyad != p.dyad).where(p.partner_session > 0, True).all())
    True
    """
    sessions = _as_sessions(sessions)
    segments = _check_segments(segments)
    n_surrogates = _check_n(n_surrogates)
    rng = _check_rng(seed)
    partners = _draw_partners(_labels_present(sessions, segments), segments, n_surrogates, rng)
    dyads = _sorted_ids([k[0] for k in sessions], "dyad")
    session_ids = _sorted_ids([k[1] for k in sessions], "session")
    shape = (len(dyads), len(session_ids), len(segments), n_surrogates)
    p_dyad = np.full(shape, "", dtype=object)
    p_session = np.full(shape, -1, dtype=int)
    for (key, label), keys in partners.items():
        i, j, g = dyads.index(key[0]), session_ids.index(key[1]), segments.index(label)
        p_dyad[i, j, g] = [k[0] for k in keys]
        p_session[i, j, g] = [k[1] for k in keys]
    return xr.Dataset(
        {
            "partner_dyad": (("dyad", "session", "segment", "surrogate"), p_dyad),
            "partner_session": (("dyad", "session", "segment", "surrogate"), p_session),
        },
        coords={
            "dyad": np.array(dyads, dtype=object if isinstance(dyads[0], str) else None),
            "session": session_ids,
            "segment": np.array(segments, dtype=object),
            "surrogate": np.arange(n_surrogates),
        },
    )
