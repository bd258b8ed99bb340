"""One front door for synchrony.

Per session (``compute_synchrony``) and per study (``synchrony_cube``).
"""

import json
from collections.abc import Mapping

import mne
import numpy as np
import xarray as xr
from mne.utils import _check_option, _validate_type, logger, verbose, warn

from .._version import __version__
from ..io.dyad import get_session_info
from ..utils._docs import fill_doc
from ._kernels import fisher_z as _fisher_z
from ._kernels import lagged_corr, n_windows
from .wclc import SUMMARY_DOCS, WINDOW_SUMMARIES, _wclc_samples, pool_windows, window_summaries

METHODS = ("wclc",)
WCLC_DEFAULTS = {"lag": 10.0, "window": 30.0, "step": 15.0, "fisher_z": True, "absolute": True}
CUBE_VARIABLES = (*WINDOW_SUMMARIES, "grand_mean", "n_windows", "segment_duration")


def _session_label(raw):
    meta = get_session_info(raw)
    if "dyad" in meta or "session" in meta:
        return f"dyad {meta.get('dyad', '?')}, session {meta.get('session', '?')}"
    fnames = [f for f in getattr(raw, "filenames", ()) if f]
    return f"recording {fnames[0]}" if fnames else "in-memory session"


def _session_roles(raw, roles):
    """Return the two role channel names of a session Raw."""
    where = _session_label(raw)
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


def _session_signals(raw, roles):
    """Both roles' signals with samples inside BAD_* annotations set to NaN."""
    data = raw.get_data(picks=list(roles))
    bad = np.zeros(raw.n_times, bool)
    for label in set(raw.annotations.description):
        if label.upper().startswith("BAD"):
            for start, stop in _segment_spans(raw, label):
                bad[start:stop] = True
    if bad.any():
        data = data.copy()
        data[:, bad] = np.nan
        logger.info(f"{_session_label(raw)}: {bad.mean():.1%} of samples inside BAD_* spans.")
    return data[0], data[1]


def _check_method_params(method, params):
    _check_option("method", method, METHODS)
    unknown = sorted(set(params) - set(WCLC_DEFAULTS))
    if unknown:
        raise TypeError(
            f"Unknown parameter(s) {unknown} for method {method!r}; it takes "
            f"{sorted(WCLC_DEFAULTS)}."
        )
    out = {**WCLC_DEFAULTS, **params}
    for key in ("fisher_z", "absolute"):
        _validate_type(out[key], bool, key)
    return out


def _check_segments(segments):
    _validate_type(segments, (str, list, tuple), "segments")
    segments = (segments,) if isinstance(segments, str) else tuple(segments)
    if not segments or not all(isinstance(s, str) and s for s in segments):
        raise ValueError(f"segments must be non-empty strings, got {segments!r}.")
    if len(set(segments)) != len(segments):
        raise ValueError(f"segments must be unique, got {segments!r}.")
    return segments


def _params_attr(method, segments, roles, params):
    return json.dumps(
        {
            "method": method,
            "segments": list(segments),
            "roles": list(roles),
            **params,
            "mne_dyad_version": __version__,
        },
        sort_keys=True,
    )


@verbose
@fill_doc
def compute_synchrony(
    raw, *, method="wclc", segments=("IM", "CB"), roles=None, verbose=None, **params
):
    """Compute synchrony inside the segments of one dyadic session.

    Parameters
    ----------
    raw : mne.io.Raw
        A session Raw with the two roles' EDA as channels (see
        :func:`mne_dyad.io.combine_dyad`) and segments as annotations.
    method : str
        Synchrony index. ``"wclc"``: windowed cross-lagged correlation
        (:func:`mne_dyad.synchrony.wclc`).
    %(segments)s
    roles : None | tuple of str
        The two role channels; by default those stored by ``combine_dyad``.
    %(verbose)s
    **params
        Method parameters. For ``"wclc"``: ``lag`` (default 10 s, the +-10 s of
        Prinz et al. 2021), ``window`` (30 s), ``step`` (15 s), ``fisher_z``
        (True) and ``absolute`` (True).

    Returns
    -------
    sync : xarray.Dataset, dims (segment,)
        One value per segment label for each summary: ``lag0``, ``all_lags``,
        ``x_leads``, ``y_leads``, ``best_lag`` (s), ``peak``, ``grand_mean``,
        ``n_windows`` and ``segment_duration`` (s). A label with no annotation,
        or whose annotations are all shorter than one window, is NaN (with a
        warning naming the session and segment in the latter case).

    Examples
    --------
    >>> import mne_dyad as md
    >>> raw = md.simulation.simulate_session(duration=600, seed=1)
    >>> sync = md.synchrony.compute_synchrony(raw, lag=5.0, window=30.0, step=15.0)
    >>> list(sync.segment.values)
    ['IM', 'CB']
    """
    _validate_type(raw, mne.io.BaseRaw, "raw")
    params = _check_method_params(method, params)
    segments = _check_segments(segments)
    roles = _session_roles(raw, roles)
    where = _session_label(raw)
    sfreq, w, L, s = _wclc_samples(
        raw.info["sfreq"], params["lag"], params["window"], params["step"]
    )
    x, y = _session_signals(raw, roles)
    lags = np.arange(-L, L + 1) / sfreq
    values = {key: [] for key in CUBE_VARIABLES}
    for label in segments:
        spans = _segment_spans(raw, label)
        if not spans:
            logger.info(f"{where} has no {label!r} segment; its values are NaN.")
        pooled, total = [], 0.0
        for start, stop in spans:
            total += (stop - start) / sfreq
            if n_windows(stop - start, w, L, s) < 1:
                warn(
                    f"{where}: the {label!r} segment at {start / sfreq:.1f} s lasts "
                    f"{(stop - start) / sfreq:.1f} s, shorter than one window plus the "
                    f"maximum lag ({params['window']} s + {params['lag']} s); it is "
                    "left out (NaN if no other segment of this label remains)."
                )
                continue
            r = lagged_corr(x[start:stop], y[start:stop], w, L, s)
            z = (
                _fisher_z(r, absolute=params["absolute"])
                if params["fisher_z"]
                else (np.abs(r) if params["absolute"] else r)
            )
            pooled.append((window_summaries(z, lags), z))
        segment_values = pool_windows(pooled)
        segment_values["segment_duration"] = total if spans else np.nan
        for key in CUBE_VARIABLES:
            values[key].append(segment_values[key])
    ds = xr.Dataset(
        {key: ("segment", np.asarray(val, float)) for key, val in values.items()},
        coords={"segment": ("segment", np.array(segments, dtype=object))},
    )
    _annotate_variables(ds, roles)
    ds.attrs["mne_dyad_params"] = _params_attr(method, segments, roles, params)
    meta = get_session_info(raw)
    for key in ("dyad", "session", "therapist"):
        if key in meta:
            ds.attrs[key] = meta[key]
    return ds


def _annotate_variables(ds, roles):
    for key in ds.data_vars:
        if key == "segment_duration":
            long_name, units = "total duration of the segment's annotations", "s"
        else:
            long_name, units = SUMMARY_DOCS[key]
        long_name = long_name.replace("first role", roles[0]).replace("second role", roles[1])
        ds[key].attrs.update(units=units, long_name=long_name)
    ds.attrs["x_role"], ds.attrs["y_role"] = roles


def _sorted_ids(ids, what):
    try:
        return sorted(set(ids))
    except TypeError:
        raise TypeError(
            f"{what} ids must all be of one type (all str or all int), got "
            f"{sorted({type(i).__name__ for i in ids})}."
        ) from None


@verbose
@fill_doc
def synchrony_cube(
    sessions,
    *,
    method="wclc",
    segments=("IM", "CB"),
    roles=None,
    n_jobs=1,
    verbose=None,
    **params,
):
    """Compute synchrony for many sessions into a dyad x session x segment cube.

    Parameters
    ----------
    sessions : mapping
        ``{(dyad, session): raw}`` with one session Raw per dyad and session
        (for example ``simulate_study(...).raws``).
    method : str
        Synchrony index (see :func:`compute_synchrony`).
    %(segments)s
    roles : None | tuple of str
        The two role channels; by default those stored by ``combine_dyad``.
    %(n_jobs)s
    %(verbose)s
    **params
        Method parameters (see :func:`compute_synchrony`).

    Returns
    -------
    cube : xarray.Dataset, dims (dyad, session, segment)
        Every summary of :func:`compute_synchrony`; missing sessions and segments
        are NaN. Coordinates ``dyad``, ``session``, ``segment`` (and ``therapist``
        on ``dyad`` when known); ``attrs["mne_dyad_params"]`` is a JSON record of
        every parameter and the package version. Save it with
        :func:`mne_dyad.write_cube`.

    Examples
    --------
    >>> import mne_dyad as md
    >>> study = md.simulation.simulate_study(n_dyads=3, n_sessions=2, n_usable=5,
    ...                                      duration=600, seed=0)
    >>> cube = md.synchrony_cube(study.raws, verbose=False)
    >>> dict(cube.sizes)
    {'dyad': 3, 'session': 2, 'segment': 2}
    """
    _validate_type(sessions, Mapping, "sessions")
    if not sessions:
        raise ValueError("sessions is empty: pass at least one {(dyad, session): raw} item.")
    for key, raw in sessions.items():
        if not (isinstance(key, tuple) and len(key) == 2):
            raise ValueError(f"sessions keys must be (dyad, session) tuples, got {key!r}.")
        _validate_type(raw, mne.io.BaseRaw, f"sessions[{key!r}]")
    params = _check_method_params(method, params)
    segments = _check_segments(segments)
    keys = list(sessions)
    dyads = _sorted_ids([k[0] for k in keys], "dyad")
    session_ids = _sorted_ids([k[1] for k in keys], "session")
    logger.info(
        f"Computing {method} synchrony for {len(keys)} sessions of {len(dyads)} dyads "
        f"in segments {list(segments)}."
    )
    parallel, run, n_jobs = mne.parallel.parallel_func(compute_synchrony, n_jobs, total=len(keys))
    results = parallel(
        run(
            sessions[key],
            method=method,
            segments=segments,
            roles=roles,
            verbose=logger.level,
            **params,
        )
        for key in keys
    )
    first_roles = (results[0].attrs["x_role"], results[0].attrs["y_role"])
    shape = (len(dyads), len(session_ids), len(segments))
    arrays = {key: np.full(shape, np.nan) for key in CUBE_VARIABLES}
    therapists = {}
    for key, res in zip(keys, results, strict=True):
        if (res.attrs["x_role"], res.attrs["y_role"]) != first_roles:
            raise ValueError(
                f"Dyad {key[0]}, session {key[1]} has roles "
                f"{(res.attrs['x_role'], res.attrs['y_role'])}, but other sessions have "
                f"{first_roles}. Use the same role names for every session."
            )
        i, j = dyads.index(key[0]), session_ids.index(key[1])
        for var in CUBE_VARIABLES:
            arrays[var][i, j] = res[var].values
        if "therapist" in res.attrs:
            t = str(res.attrs["therapist"])
            if therapists.setdefault(key[0], t) != t:
                raise ValueError(
                    f"Dyad {key[0]} has sessions with different therapists "
                    f"({therapists[key[0]]!r} and {t!r}). A dyad is one client with one "
                    "therapist: give each pairing its own dyad id."
                )
    coords = {
        "dyad": ("dyad", np.array(dyads, dtype=object if isinstance(dyads[0], str) else None)),
        "session": session_ids,
        "segment": ("segment", np.array(segments, dtype=object)),
    }
    if therapists:
        coords["therapist"] = ("dyad", np.array([therapists.get(d, "") for d in dyads], object))
    cube = xr.Dataset(
        {var: (("dyad", "session", "segment"), arr) for var, arr in arrays.items()},
        coords=coords,
    )
    _annotate_variables(cube, first_roles)
    cube["dyad"].attrs["long_name"] = "dyad"
    cube["session"].attrs["long_name"] = "session"
    cube["segment"].attrs["long_name"] = "segment label"
    cube.attrs["mne_dyad_params"] = _params_attr(method, segments, first_roles, params)
    cube.attrs["title"] = f"mne-dyad {method} synchrony cube"
    n_nan = int(np.isnan(arrays["all_lags"]).sum())
    logger.info(f"Cube ready: {dict(cube.sizes)}, {n_nan} dyad x session x segment cells NaN.")
    return cube
