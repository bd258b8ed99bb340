"""One front door for synchrony.

Per session (``compute_synchrony``) and per study (``synchrony_cube``), for every
method of the registry: ``wclc``, ``peak_picking``, ``susy``, ``concordance`` and
``phase``.
"""

import collections
import json

import mne
import numpy as np
import xarray as xr
from mne.utils import _check_option, _validate_type, logger, verbose, warn

from ..io._session import (
    _READING,
    _SIGNALS,
    _as_sessions,
    _check_segments,
    _describe,
    _is_lazy,
    _made,
    _native_sfreq,
    _reader,
    _segment_spans,
    _session_roles,
    _session_signals,
    _sorted_ids,
    _source,
    _take_news,
    get_session_info,
)
from ..utils._dask import _active_client, _Held, _leaves_process, _n_jobs, _on_worker
from ..utils._docs import fill_doc
from ..utils._imports import _soft_import
from ..utils._signal import ANALYSIS_SFREQ, _hint_high_rate
from ._arousal import _AMPLITUDE_MIN, _arousal_names, _session_arousal
from ._cells import _check_same_roles, _check_therapist, _cube_coords, _params_attr
from ._concordance import _ConcordanceMethod
from ._phase import _PhaseMethod
from ._registry import _SpanTooShort, _why_empty
from ._reliability import _add_reliability
from ._susy import _SUSYMethod
from ._wclc import _PeakPickingMethod, _WCLCMethod

METHODS = {
    m.name: m
    for m in (
        _WCLCMethod(),
        _PeakPickingMethod(),
        _SUSYMethod(),
        _ConcordanceMethod(),
        _PhaseMethod(),
    )
}
_EXTRA_VARIABLES = {"segment_duration": ("total duration of the segment's annotations", "s")}


def _check_method(method, params):
    _check_option("method", method, tuple(METHODS))
    spec = METHODS[method]
    return spec, spec.check_params(params)


def _variable_names(spec, roles):
    """Output variables of a method: ``{name: (source, long_name, units)}``.

    Role-named aliases (``client_leads`` for ``x_leads``...) point to their source.
    """
    names = {}
    for key, (long_name, units) in {**spec.variables, **_EXTRA_VARIABLES}.items():
        long_name = long_name.replace("first role", roles[0]).replace("second role", roles[1])
        names[key] = (key, long_name, units)
    for key, pattern in getattr(spec, "role_aliases", {}).items():
        alias = pattern.format(x=roles[0], y=roles[1])
        names.setdefault(alias, names[key])
    return names


def _empty_values(spec, n_lags):
    out = {}
    for key in spec.variables:
        out[key] = np.full(n_lags, np.nan) if key in spec.lag_variables else np.nan
    if "n_windows" in out:
        out["n_windows"] = 0.0
    return out


@verbose
@fill_doc
def compute_synchrony(
    raw,
    *,
    method="wclc",
    segments=("IM", "CB"),
    roles=None,
    signal="raw",
    arousal=True,
    verbose=None,
    **params,
):
    """Compute synchrony inside the segments of one dyadic session.

    Parameters
    ----------
    raw : mne.io.Raw
        A session Raw with the two roles' EDA as channels (see
        :func:`mne_dyad.io.combine_dyad`) and segments as annotations.
    method : str
        Synchrony index:

        - ``"wclc"``: windowed cross-lagged correlation (:func:`~mne_dyad.synchrony.wclc`);
          parameters ``lag`` (10 s, the +-10 s of Prinz et al. 2021), ``window``
          (30 s), ``step`` (15 s), ``fisher_z`` (True), ``absolute`` (True).
        - ``"peak_picking"``: Boker et al. (2002) peaks of the same windows
          (:func:`~mne_dyad.synchrony.peak_picking`); ``lag``, ``window``,
          ``step``, ``smooth`` (1).
        - ``"susy"``: surrogate synchrony (:func:`~mne_dyad.synchrony.susy`);
          ``segment`` (30 s), ``max_lag`` (10 s), ``n_surrogates`` (None: all
          pairs), ``seed``.
        - ``"concordance"``: slope concordance and the single session index
          (Marci et al. 2007); ``slope_window`` (5 s), ``slope_step`` (1 s),
          ``corr_window`` (15 s).
        - ``"phase"``: phase-locking value and mean ``1 - sin(|dphi| / 2)`` of the
          Hilbert phases of band-passed signals; ``band`` ((0.05, 0.5) Hz),
          ``window`` (30 s), ``step`` (15 s).
    %(segments)s
    %(session_roles)s
    signal : str
        ``"raw"`` (the role channels), or ``"clean"``, ``"tonic"``, ``"phasic"``:
        the ``<role>-<signal>`` channels of :mod:`mne_dyad.preprocessing`.
    arousal : bool
        Also measure each role's arousal in each segment (default True):
        ``<role>_scr_rate`` and ``<role>_tonic`` as in
        :func:`~mne_dyad.synchrony.arousal` (SCRs of at least 0.01 uS).
    %(verbose)s
    **params
        The method's parameters (see ``method``); durations in seconds.

    Returns
    -------
    sync : xarray.Dataset, dims (segment [, lag])
        One value per segment label for each of the method's outputs (for
        ``"wclc"``: ``lag0``, ``all_lags``, ``x_leads``, ``y_leads`` and their
        role-named copies such as ``client_leads``, ``x_leads_0``, ``y_leads_0``,
        ``best_lag``, ``peak``, ``grand_mean``, ``n_windows`` and the per-lag
        ``profile``), plus ``segment_duration``. A label with no annotation, or
        whose annotations are too short for the method, is NaN (with a warning
        naming the session and segment in the latter case).

    Examples
    --------
    >>> import mne_dyad as md
    >>> raw = md.simulation.simulate_session(duration=600, seed=1)
    >>> sync = md.synchrony.compute_synchrony(raw, lag=5.0, window=30.0, step=15.0)
    >>> list(sync.segment.values), float(sync.client_leads[0]) == float(sync.x_leads[0])
    (['IM', 'CB'], True)
    """
    _validate_type(raw, mne.io.BaseRaw, "raw")
    _validate_type(arousal, bool, "arousal")
    spec, params = _check_method(method, params)
    segments = _check_segments(segments)
    roles = _session_roles(raw, roles)
    where = _describe(raw)
    sfreq = raw.info["sfreq"]
    _hint_high_rate(sfreq, where)
    samples = spec.samples(params, sfreq)
    _check_option("signal", signal, _SIGNALS)
    raw_x, raw_y = _session_signals(raw, roles, signal)
    x, y = spec.prepare(raw_x, raw_y, sfreq, samples)
    lags = spec.lags(samples, sfreq)
    n_lags = 0 if lags is None else lags.size
    per_segment = []
    for label in segments:
        spans = _segment_spans(raw, label)
        if not spans:
            logger.info(f"{where} has no {label!r} segment; its values are NaN.")
        partials, total = [], 0.0
        for start, stop in spans:
            total += (stop - start) / sfreq
            if stop - start < spec.min_samples(samples):
                warn(
                    f"{where}: the {label!r} segment at {start / sfreq:.1f} s lasts "
                    f"{(stop - start) / sfreq:.1f} s, shorter than {method} needs "
                    f"({spec.describe_min(params)}); it is left out."
                )
                continue
            try:
                partials.append(spec.compute(x[start:stop], y[start:stop], sfreq, samples))
            except _SpanTooShort:
                warn(
                    f"{where}: the {label!r} segment at {start / sfreq:.1f} s has too few "
                    f"usable samples for {method} ({spec.describe_min(params)}): "
                    f"{_why_empty(raw_x[start:stop], raw_y[start:stop], roles)}; it is left out."
                )
        values = spec.pool(partials, sfreq, samples) if partials else None
        if values is not None and not np.isfinite(values[spec.main_summary]):
            used = np.concatenate([np.arange(a, b) for a, b in spans])
            warn(
                f"{where}: no {method} value in the {label!r} segment(s): "
                f"{_why_empty(raw_x[used], raw_y[used], roles)}. Its values are NaN."
            )
        if values is None:
            if partials:
                warn(
                    f"{where}: the {label!r} segments together are too short for {method} "
                    f"({spec.describe_min(params)}); their values are NaN."
                )
            values = _empty_values(spec, n_lags)
        values["segment_duration"] = total if spans else np.nan
        per_segment.append(values)
    data = {}
    for key, (source, long_name, units) in _variable_names(spec, roles).items():
        arr = np.array([np.asarray(v[source], float) for v in per_segment])
        dims = ("segment", "lag") if arr.ndim == 2 else ("segment",)
        data[key] = (dims, arr, {"long_name": long_name, "units": units})
    coords = {"segment": ("segment", np.array(segments, dtype=object))}
    if n_lags:
        coords["lag"] = (
            "lag",
            lags,
            {"units": "s", "long_name": f"lag (positive: {roles[1]} follows {roles[0]})"},
        )
    ds = xr.Dataset(data, coords=coords)
    if arousal:
        measured = _session_arousal(raw, segments, roles, _AMPLITUDE_MIN)
        ds = ds.merge(measured, combine_attrs="override")
    ds.attrs["mne_dyad_params"] = _params_attr(
        method,
        segments,
        roles,
        {
            **params,
            "signal": signal,
            "arousal": arousal,
            "sfreq": sfreq,
            "native_sfreq": _native_rates(raw),
        },
    )
    ds.attrs["x_role"], ds.attrs["y_role"] = roles
    ds.attrs["method"] = method
    meta = get_session_info(raw)
    for key in ("dyad", "session", "therapist"):
        if key in meta:
            ds.attrs[key] = meta[key]
    return ds


def _native_rates(raw):
    """Return the rates the session's recordings had before combining (its own if unknown)."""
    rates = _native_sfreq(raw).values() or [raw.info["sfreq"]]
    return sorted({float(r) for r in rates})


def _cube_attrs(cube, params_attr, roles, method):
    cube.attrs.update(
        mne_dyad_params=params_attr,
        x_role=roles[0],
        y_role=roles[1],
        method=method,
        title=f"mne-dyad {method} synchrony cube",
    )
    return cube


def _assemble_cube(results, keys):
    """Stack per-session results (``compute_synchrony`` outputs) into a cube."""
    dyads = _sorted_ids([k[0] for k in keys], "dyad")
    session_ids = _sorted_ids([k[1] for k in keys], "session")
    first = results[0]
    first_roles = (first.attrs["x_role"], first.attrs["y_role"])
    therapists = {}
    arrays = {
        var: np.full((len(dyads), len(session_ids), *first[var].shape), np.nan)
        for var in first.data_vars
    }
    for key, res in zip(keys, results, strict=True):
        _check_same_roles(key, (res.attrs["x_role"], res.attrs["y_role"]), first_roles)
        if "lag" in first.coords and not np.array_equal(res.lag.values, first.lag.values):
            rates = [json.loads(r.attrs["mne_dyad_params"]).get("sfreq") for r in (res, first)]
            raise ValueError(
                f"Dyad {key[0]}, session {key[1]} is analysed at {rates[0]!r} Hz and the "
                f"first session (dyad {keys[0][0]}, session {keys[0][1]}) at {rates[1]!r} "
                "Hz, so their lags differ. Analyse every session at one rate: [combine] "
                f"sfreq = {ANALYSIS_SFREQ:g} in a run's configuration, or "
                f"mne_dyad.io.combine_dyad(..., sfreq={ANALYSIS_SFREQ:g})."
            )
        i, j = dyads.index(key[0]), session_ids.index(key[1])
        for var in arrays:
            arrays[var][i, j] = res[var].values
        if "therapist" in res.attrs:
            _check_therapist(therapists, key[0], res.attrs["therapist"])
    cube = xr.Dataset(
        {
            var: (("dyad", "session", *first[var].dims), arr, first[var].attrs)
            for var, arr in arrays.items()
        },
        coords=_cube_coords(
            dyads,
            session_ids,
            first.segment.values,
            first.lag if "lag" in first.coords else None,
            therapists,
        ),
    )
    params = json.loads(first.attrs["mne_dyad_params"])
    natives = set()
    for res in results:
        natives.update(json.loads(res.attrs["mne_dyad_params"])["native_sfreq"])
    params["native_sfreq"] = sorted(natives)
    params_attr = json.dumps(params, sort_keys=True, default=list)
    return _cube_attrs(cube, params_attr, first_roles, first.attrs["method"])


def _synchrony_made(source, **kwargs):
    """:func:`compute_synchrony` of a session source (a Raw or a reader), and its news."""
    if isinstance(source, mne.io.BaseRaw) and not _on_worker():
        return compute_synchrony(source, **kwargs), None
    # on a worker, another thread may be recording its reading: compute under the lock
    with _READING:
        raw, news = _made(source)
        return compute_synchrony(raw, **kwargs), news


#: a lazy cube's tasks when its dyad chunks are not given as sizes: at most this many
#: blocks of dyads (enough to keep a cluster busy, few enough to schedule cheaply)
_DEFAULT_BLOCKS = 32


def _blocks(n, spec, default):
    """Split ``range(n)`` into the consecutive ranges a lazy cube's tasks compute.

    ``spec`` is the dim's entry of ``chunks``: a positive int (ranges of that size)
    or a sequence of sizes that sums to ``n`` (those ranges); anything else (-1,
    None, "auto") gives ranges of ``default`` (at least 1). The cube's arrays are
    then rechunked to ``spec``, so these ranges set only the tasks.
    """
    if isinstance(spec, int | np.integer) and not isinstance(spec, bool) and spec > 0:
        sizes = [int(spec)] * (-(-n // int(spec)))
    elif (
        isinstance(spec, list | tuple)
        and all(isinstance(v, int | np.integer) and v > 0 for v in spec)
        and sum(spec) == n
    ):
        sizes = [int(v) for v in spec]
    else:
        size = max(1, int(default))
        sizes = [size] * (-(-n // size))
    starts = np.cumsum([0, *sizes])
    return [range(int(a), min(int(b), n)) for a, b in zip(starts[:-1], starts[1:], strict=True)]


def _block_values(members, size, shapes, kwargs):
    """Compute one block of a lazy cube: ``{variable: array}`` of ``size`` + its shape.

    ``members`` holds ``(i, j, source, held)`` of each session in the block (its place
    in the block, and :func:`_synchrony_of`'s arguments); cells of no session are NaN.
    """
    values = {name: np.full((*size, *shape), np.nan) for name, shape in shapes.items()}
    for i, j, source, held in members:
        result = _synchrony_of(source, held=held, **kwargs)
        for name, arr in values.items():
            arr[i, j] = result[name].values
    return values


def _synchrony_of(source, held=None, **kwargs):
    """:func:`compute_synchrony` of a session source, where the task runs.

    ``held`` (a :class:`~mne_dyad.utils._dask._Held`, or None) is the result the
    lazy cube's check of the session computed on the cluster: a task on a worker
    of that cluster fetches it instead of reading the session again. A reader's
    warnings of reading were shown when the lazy cube was built: on a worker they
    are recorded and dropped. A cube built under a Client but computed without
    one runs its tasks in threads of the calling process, whose warning filters
    they share; there the reader is called without ``catch_warnings`` (which is not
    thread-safe), and its warnings may be shown again.
    """
    found = None if held is None else held.fetch()
    if found is not None:
        return found["synchrony"]
    if isinstance(source, mne.io.BaseRaw) or _on_worker():
        return _synchrony_made(source, **kwargs)[0]
    with _READING:
        raw = source()
    return compute_synchrony(raw, **kwargs)


def _checks_of(raw, roles):
    """Return what a lazy cube checks of a session."""
    meta = get_session_info(raw)
    return {
        "sfreq": raw.info["sfreq"],
        "native": _native_rates(raw),
        "roles": _session_roles(raw, roles),
        "therapist": meta.get("therapist"),
    }


def _checked_synchrony(source, roles, kwargs):
    """Check a session and compute its synchrony, from one read (run on a worker)."""
    with _READING:  # no other thread records its reading while this one computes
        raw, news = _made(source)
        return {
            "checks": _checks_of(raw, roles),
            "news": news,
            "synchrony": compute_synchrony(raw, **kwargs),
        }


def _told(made):
    """Return the part of :func:`_checked_synchrony`'s result that comes back: checks, news."""
    return made["checks"], made["news"]


def _lazy_checks(sessions, keys, roles, kwargs):
    """Check every session of a lazy cube: ``{key: checks}`` (:func:`_checks_of`).

    With a dask.distributed Client active and sessions that hand out readers (a
    study from a manifest), the sessions not yet read here are read on the workers
    for the checks, and nothing is read or kept here (their warnings of reading are
    shown here once, as for the other remote steps). The same read computes the
    session's synchrony (``compute_synchrony(raw, **kwargs)``), which stays on the
    cluster for the cube's task to fetch. Returns the checks, ``{key: reader}`` of
    the sessions the tasks should carry as readers, and ``{key: _Held}`` of the
    results kept on the cluster.
    """
    client = _active_client() if _is_lazy(sessions) else None
    readers = {} if client is None else {k: _reader(sessions, k) for k in keys}
    readers = {k: r for k, r in readers.items() if r is not None}
    checks, held = {}, {}
    if readers:
        from distributed import wait

        made = client.map(
            _checked_synchrony, list(readers.values()), roles=roles, kwargs=kwargs, pure=False
        )
        told = client.map(_told, made)
        wait(told)
        failed = None
        for key, future, result in zip(readers, told, made, strict=True):
            if future.status != "finished":
                failed = failed or future
                continue
            found, news = future.result()
            _take_news(sessions, key, news)  # also when another session failed
            checks[key] = found
            held[key] = _Held(result)
        if failed is not None:
            failed.result()  # raises the worker's error
    for key in keys:
        if key not in checks:
            checks[key] = _checks_of(sessions[key], roles)  # read here
    return checks, readers, held


#: the results kept on the cluster by the last two lazy cubes built from readers under
#: a Client (see _lazy_cube)
_RECENT_RESULTS = collections.deque(maxlen=2)


def _lazy_cube(sessions, keys, method, segments, roles, params, chunks, signal, arousal):
    """Build the cube from dask arrays: one task per block of sessions, computed when asked.

    With a dask.distributed Client active and a study read from a manifest, the
    sessions are checked on the workers, whose read also computes the session's
    synchrony and keeps it there; each task fetches that result, or, if it is gone
    (computed without that Client), reads the session with the reader it carries.
    The calling process reads none, and the graph holds no recording
    (:func:`_lazy_checks`).
    """
    dask = _soft_import("dask", "synchrony_cube(chunks=...)")
    da = _soft_import("dask.array", "synchrony_cube(chunks=...)")
    spec, checked = _check_method(method, params)
    kwargs = dict(
        method=method,
        segments=segments,
        roles=roles,
        signal=signal,
        arousal=arousal,
        verbose="error",
        **params,
    )
    checks, readers, held = _lazy_checks(sessions, keys, roles, kwargs)
    first_roles, therapists, natives, sfreqs = None, {}, set(), set()
    for key in keys:
        found = checks[key]
        sfreqs.add(found["sfreq"])
        natives.update(found["native"])
        first_roles = first_roles or found["roles"]
        _check_same_roles(key, found["roles"], first_roles)
        if found["therapist"] is not None:
            _check_therapist(therapists, key[0], found["therapist"])
    sfreqs = sorted(sfreqs)
    if len(sfreqs) > 1:
        raise ValueError(
            f"Sessions have different sampling rates {sfreqs}; a lazy cube needs one "
            "(resample with mne_dyad.io.combine_dyad(..., sfreq=...))."
        )
    samples = spec.samples(checked, sfreqs[0])
    lags = spec.lags(samples, sfreqs[0])
    dyads = _sorted_ids([k[0] for k in keys], "dyad")
    session_ids = _sorted_ids([k[1] for k in keys], "session")
    names = _variable_names(spec, first_roles)
    if arousal:
        names.update(_arousal_names(first_roles))
    shapes = {
        name: (len(segments), lags.size) if source in spec.lag_variables else (len(segments),)
        for name, (source, _, _) in names.items()
    }
    # one task per block of the cube (a chunk of dyads by a chunk of sessions), which
    # computes its sessions in turn: a task per session and variable made the graph
    # hold some 160 tasks per session, whose scheduling outweighed the work
    index = {key: (dyads.index(key[0]), session_ids.index(key[1])) for key in keys}
    n_dyads, n_sessions = len(dyads), len(session_ids)
    dyad_blocks = _blocks(n_dyads, chunks.get("dyad"), -(-n_dyads // _DEFAULT_BLOCKS))
    session_blocks = _blocks(n_sessions, chunks.get("session"), n_sessions)
    rows = []
    for dyad_block in dyad_blocks:
        row = []
        for session_block in session_blocks:
            members = [
                (
                    index[key][0] - dyad_block.start,
                    index[key][1] - session_block.start,
                    readers[key] if key in readers else sessions[key],
                    held.get(key),
                )
                for key in keys
                if index[key][0] in dyad_block and index[key][1] in session_block
            ]
            size = (len(dyad_block), len(session_block))
            block = dask.delayed(_block_values, pure=False)(members, size, shapes, kwargs)
            row.append(block)
        rows.append(row)
    data = {}
    for name, (_, long_name, units) in names.items():
        shape = shapes[name]
        arr = da.concatenate(
            [
                da.concatenate(
                    [
                        da.from_delayed(block[name], shape=(len(d), len(s), *shape), dtype=float)
                        for block, s in zip(row, session_blocks, strict=True)
                    ],
                    axis=1,
                )
                for row, d in zip(rows, dyad_blocks, strict=True)
            ],
            axis=0,
        )
        dims = ("dyad", "session", "segment", "lag")[: 2 + len(shape)]
        arr = arr.rechunk({i: chunks.get(dim, -1) for i, dim in enumerate(dims)})
        data[name] = (dims, arr, {"long_name": long_name, "units": units})
    lag = None
    if lags is not None:
        lag = (
            "lag",
            lags,
            {
                "units": "s",
                "long_name": f"lag (positive: {first_roles[1]} follows {first_roles[0]})",
            },
        )
    cube = xr.Dataset(data, coords=_cube_coords(dyads, session_ids, segments, lag, therapists))
    if held:
        # the cube's objects hold its results on the cluster; so do the last cubes
        # built, so that synchrony_cube(...).persist(), which drops its lazy cube
        # before the tasks run, still fetches them
        _RECENT_RESULTS.append(list(held.values()))
    return _cube_attrs(
        cube,
        _params_attr(
            method,
            segments,
            first_roles,
            {
                **checked,
                "signal": signal,
                "arousal": arousal,
                "sfreq": sfreqs[0],
                "native_sfreq": sorted(natives),
            },
        ),
        first_roles,
        method,
    )


@verbose
@fill_doc
def synchrony_cube(
    sessions,
    *,
    method="wclc",
    segments=("IM", "CB"),
    roles=None,
    signal="raw",
    arousal=True,
    n_jobs=1,
    chunks=None,
    verbose=None,
    **params,
):
    """Compute synchrony for many sessions into a dyad x session x segment cube.

    Parameters
    ----------
    sessions : mapping | Study
        ``{(dyad, session): raw}`` with one session Raw per dyad and session
        (for example ``simulate_study(...).raws``), or a
        :class:`~mne_dyad.io.Study` from :func:`~mne_dyad.io.read_study`.
    method : str
        Synchrony index (see :func:`compute_synchrony`).
    %(segments)s
    %(session_roles)s
    signal : str
        Which EDA to use (see :func:`compute_synchrony`).
    arousal : bool
        Also measure each role's arousal per cell (default True): the cube
        variables ``<role>_scr_rate`` and ``<role>_tonic`` (see
        :func:`~mne_dyad.synchrony.arousal`).
    %(n_jobs)s
    chunks : None | dict
        If given (for example ``{"dyad": 8}``), return a lazy cube backed by dask
        arrays with these chunk sizes (dims not named are whole). Each dask task
        computes a block of sessions in turn: a chunk of dyads (when ``"dyad"`` is
        a size or a tuple of sizes; otherwise up to 32 blocks of dyads) by a
        chunk of sessions. The tasks run on ``cube.compute()``, by the active
        scheduler, for example a ``dask.distributed.Client``. Every session is
        read when the cube is built, to check its rate and roles: here, or, for a
        study from :func:`mne_dyad.io.read_study` built while a Client is active,
        on the workers. Then the same read also computes the session's synchrony,
        so building such a cube computes it (the calling process reads none, and
        no session is read twice): each session's result stays on the workers
        while the cube, or one of the last two such cubes built in this process,
        keeps it, and ``cube.compute()`` fetches it. Compute it under that
        Client: otherwise its tasks read the sessions again, in this process
        without a Client (the same values; the warnings of reading may be shown
        again). A dask worker reads and computes its sessions one at a time,
        whatever its threads (Python's warning filters are shared by them): give
        workers one thread each.
        Needs dask (``pip install "dask[distributed]"``).
    %(verbose)s
    **params
        Method parameters (see :func:`compute_synchrony`).

    Returns
    -------
    cube : xarray.Dataset, dims (dyad, session, segment [, lag])
        Every output of :func:`compute_synchrony`; missing sessions and segments
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
    >>> dict(cube.all_lags.sizes)
    {'dyad': 3, 'session': 2, 'segment': 2}
    """
    sessions = _as_sessions(sessions)
    _check_method(method, params)
    _check_option("signal", signal, _SIGNALS)
    _validate_type(arousal, bool, "arousal")
    segments = _check_segments(segments)
    keys = list(sessions)
    if chunks is not None:
        _validate_type(chunks, dict, "chunks")
        bad = sorted(set(chunks) - {"dyad", "session", "segment", "lag"})
        if bad:
            raise ValueError(f"chunks names unknown dims {bad}; use dyad, session, segment, lag.")
        logger.info(f"Lazy {method} cube of {len(keys)} sessions (dask, chunks {chunks}).")
        cube = _lazy_cube(sessions, keys, method, segments, roles, params, chunks, signal, arousal)
        return _add_reliability(cube)
    logger.info(
        f"Computing {method} synchrony for {len(keys)} sessions in segments {list(segments)}."
    )
    n_jobs = _n_jobs(n_jobs)  # None under joblib's dask backend: the cluster's workers
    parallel, run, n_jobs = mne.parallel.parallel_func(_synchrony_made, n_jobs, total=len(keys))
    # when the work leaves this process (joblib's jobs or a dask cluster, whatever
    # this machine's core count), a study's sessions are read there: results travel
    remote = _leaves_process(run, _synchrony_made)
    # every session made before any task runs: a session read here records its
    # warnings of reading, which the tasks' computing in threads of this process
    # (joblib's threading backend) would hide or misfile
    sources = [_source(sessions, key, remote) for key in keys]
    results = parallel(
        run(
            source,
            method=method,
            segments=segments,
            roles=roles,
            signal=signal,
            arousal=arousal,
            verbose=logger.level,
            **params,
        )
        for source in sources
    )
    for key, (_, news) in zip(keys, results, strict=True):
        _take_news(sessions, key, news)
    cube = _add_reliability(_assemble_cube([result for result, _ in results], keys))
    first = next(iter(cube.data_vars))
    n_nan = int(np.isnan(cube[first].values).sum())
    logger.info(f"Cube ready: {dict(cube.sizes)}, {n_nan} cells of {first!r} NaN.")
    return cube
