"""Pieces shared by the cube and other per-cell measures (arousal): checks, coordinates."""

import json

import numpy as np

from .._version import __version__


def _params_attr(method, segments, roles, params):
    record = {
        k: (v if not isinstance(v, np.random.Generator) else "Generator") for k, v in params.items()
    }
    return json.dumps(
        {
            "method": method,
            "segments": list(segments),
            "roles": list(roles),
            **record,
            "mne_dyad_version": __version__,
        },
        sort_keys=True,
        default=list,
    )


def _check_therapist(therapists, dyad, therapist):
    t = str(therapist)
    if therapists.setdefault(dyad, t) != t:
        raise ValueError(
            f"Dyad {dyad} has sessions with different therapists ({therapists[dyad]!r} and "
            f"{t!r}). A dyad is one client with one therapist: give each pairing its own "
            "dyad id."
        )


def _check_same_roles(key, roles, first_roles):
    if tuple(roles) != tuple(first_roles):
        raise ValueError(
            f"Dyad {key[0]}, session {key[1]} has roles {tuple(roles)}, but other sessions "
            f"have {tuple(first_roles)}. Use the same role names for every session."
        )


def _cube_coords(dyads, session_ids, segments, lag, therapists):
    coords = {
        "dyad": (
            "dyad",
            np.array(dyads, dtype=object if isinstance(dyads[0], str) else None),
            {"long_name": "dyad"},
        ),
        "session": ("session", session_ids, {"long_name": "session"}),
        "segment": ("segment", np.array(segments, dtype=object), {"long_name": "segment label"}),
    }
    if lag is not None:
        coords["lag"] = lag
    if therapists:
        coords["therapist"] = ("dyad", np.array([therapists.get(d, "") for d in dyads], object))
    return coords
