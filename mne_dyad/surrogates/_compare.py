"""Synchrony of the real dyads beside its surrogate distribution, per session.

Surrogate values, effect sizes and p-values per session and segment
(docs/methods.rst, section methods-surrogates). The group-level model of the
excess over chance is a PyMC model and lives in :mod:`mne_dyad.stats`.
"""

import json
import os
import shutil
import tempfile
import warnings
from collections import OrderedDict
from collections.abc import Mapping

import mne
import numpy as np
import xarray as xr
from mne.utils import _check_option, _validate_type, logger, verbose, warn

from .._version import __version__
from ..io._session import (
    _READING,
    _SIGNALS,
    _as_sessions,
    _check_segments,
    _is_lazy,
    _made,
    _segment_spans,
    _session_roles,
    _session_signals,
    _sorted_ids,
    _source,
    _take_news,
)
from ..synchrony._api import _check_method
from ..synchrony._registry import _SpanTooShort
from ..utils._checks import _check_positive
from ..utils._dask import _leaves_process, _n_jobs
from ..utils._docs import fill_doc
from ._iaaft import _iaaft_nan
from ._pseudo_dyads import _draw_partners
from ._shuffle import _check_n, _shift_offsets, _shuffle_segments

KINDS = (
    "pseudo_dyads",
    "double_pseudo_dyads",
    "circular_shift",
    "segment_shuffle",
    "iaaft",
)


def _default_scale(method, params, what):
    """Default minimal circular shift or shuffle segment (s) for a method."""
    if method in ("wclc", "peak_picking"):
        return 2 * params["lag"] if what == "shift" else params["window"]
    if method == "susy":
        return 2 * params["max_lag"] if what == "shift" else params["segment"]
    if method == "concordance":
        return params["corr_window"]
    return params["window"]  # phase


def _scalar_summaries(spec):
    """Return the method's per-cell scalar summaries (no lag profile, SE or split half)."""
    return [
        v
        for v in spec.variables
        if v not in spec.lag_variables and v != "n_windows" and not v.endswith(("_se", "_split"))
    ]


def _check_summaries(spec, method, summary):
    """Return ``(summaries, one)``: the list to compute and whether one was asked as a str."""
    _validate_type(summary, (None, str, list, tuple), "summary")
    one = not isinstance(summary, list | tuple)
    summaries = [spec.main_summary if summary is None else summary] if one else list(summary)
    allowed = [v for v in spec.variables if v not in spec.lag_variables]
    bad = [v for v in summaries if v not in allowed]
    if bad or not summaries or len(set(summaries)) < len(summaries):
        what = "is not a scalar output" if one else "must name distinct scalar outputs"
        raise ValueError(f"summary={summary!r} {what} of {method}: {_scalar_summaries(spec)}.")
    return summaries, one


def _partial(spec, samples, sfreq, xs, ys):
    """One span pair's partial result, truncated to the shorter; None if too short."""
    n = min(xs.size, ys.size)
    if n < spec.min_samples(samples):
        return None
    px, py = spec.prepare(xs[:n], ys[:n], sfreq, samples)
    try:
        return spec.compute(px, py, sfreq, samples)
    except _SpanTooShort:
        return None


def _reduced(spec, part, summaries):
    """``{summary: (sum, weight)}`` of a partial result, or None if one does not pool so."""
    if part is None:
        return dict.fromkeys(summaries, (0.0, 0))
    out = {}
    for summary in summaries:
        red = spec.reduce(part, summary)
        if red is None:
            return None
        out[summary] = red
    return out


def _pooled(spec, samples, sfreq, summaries, pairs, ids=None, cache=None):
    """Summaries of several span pairs pooled as ``compute_synchrony`` pools spans.

    Returns an array with one value per summary. A span pair seen before (same
    ``ids`` entry) is taken from ``cache`` when its summaries pool as weighted
    means (``spec.reduce``); otherwise the partial results are pooled.
    """
    reduced, parts = [], []
    for k, (xs, ys) in enumerate(pairs):
        key = None if ids is None else ids[k]
        if cache is not None and key in cache:
            reduced.append(cache[key])
            continue
        part = _partial(spec, samples, sfreq, xs, ys)
        red = None if cache is None else _reduced(spec, part, summaries)
        if red is not None:
            cache[key] = red
            reduced.append(red)
        else:
            parts.append(part)
    return _pool_parts(spec, samples, sfreq, summaries, parts, reduced)


def _pool_parts(spec, samples, sfreq, summaries, parts, reduced=()):
    """Pool partial results (None: a span too short) after the ``reduced`` ones."""
    reduced, partials = list(reduced), []
    for part in parts:
        red = _reduced(spec, part, summaries)
        if red is None:  # a summary does not pool as a weighted mean
            if part is not None:
                partials.append(part)
            continue
        reduced.append(red)
    if reduced and not partials:
        out = np.full(len(summaries), np.nan)
        for i, summary in enumerate(summaries):
            total = sum(r[summary][0] for r in reduced)
            weight = sum(r[summary][1] for r in reduced)
            out[i] = total / weight if weight else np.nan
        return out
    values = spec.pool(partials, sfreq, samples) if partials else None
    if values is None:
        return np.full(len(summaries), np.nan)
    return np.array([float(values[summary]) for summary in summaries])


def _shifted_parts(spec, samples, sfreq, pairs, rng, kind_samples, n_sur):
    """Partial results of ``n_sur`` circular shifts of every span pair, batched per span.

    The offsets are drawn in the order of one surrogate at a time, span by span
    (as shifting one surrogate at a time would), so a seed gives the same surrogates; each
    span's shifted copies then go through one ``spec.compute_batch`` call.
    Returns, per surrogate, the list of its spans' partial results.
    """
    offsets = np.array(
        [[_shift_offsets(y.size, kind_samples, 1, rng)[0] for _, y in pairs] for _ in range(n_sur)]
    ).reshape(n_sur, len(pairs))
    per_span = []
    for k, (xs, ys) in enumerate(pairs):
        n = min(xs.size, ys.size)
        if n < spec.min_samples(samples):
            per_span.append([None] * n_sur)
            continue
        # np.roll(ys, o)[i] == ys[(i - o) % size], for every offset at once
        rolled = ys[(np.arange(n)[None, :] - offsets[:, k, None]) % ys.size]
        per_span.append(spec.compute_batch(xs[:n], rolled, sfreq, samples))
    return [[per_span[k][r] for k in range(len(pairs))] for r in range(n_sur)]


def _surrogate_pairs(kind, pairs, rng, kind_samples):
    """Within-session surrogate of each span pair: (x, y*) (circular shifts: _shifted_parts)."""
    out = []
    for xs, ys in pairs:
        if kind == "segment_shuffle":
            out.append((xs, _shuffle_segments(ys, kind_samples, rng)))
        else:
            out.append((xs, _iaaft_nan(ys, rng)))
    return out


def _partner_pairs(key, label, pairs, partner, spans, first_role_own):
    """Span pairs of a pseudo-dyad and their cache ids.

    ``first_role_own``: the session's first role with the partner's second role
    (pseudo-dyads); otherwise the partner's first role with this session's second
    role (the other half of double pseudo-dyads). An id names the two sessions
    and spans a pair reads, so the same pair is computed once.
    """
    theirs = spans[(partner, label)]
    out, ids = [], []
    for k, (xs, ys) in enumerate(pairs):
        j = k % len(theirs)
        if first_role_own:
            out.append((xs, theirs[j][1]))
            ids.append((key, partner, label, k, j))
        else:
            out.append((theirs[j][0], ys))
            ids.append((partner, key, label, j, k))
    return out, ids


#: Cells of segments a task keeps in memory when it reads them from a store.
_STORE_CACHE = 64

#: Pseudo-dyad span pairs whose reduced summaries a task keeps for double
#: pseudo-dyads (least recently used first out): some 30 MB.
_PAIR_CACHE = 2**16


class _LRU(OrderedDict):
    """A dict of at most ``maxsize`` items; the least recently used goes first.

    A task's caches are bounded so that its memory does not grow with its share
    of the study: in a large study pseudo-dyad partners are drawn from thousands
    of sessions, and a pair of spans rarely recurs.
    """

    def __init__(self, maxsize):
        super().__init__()
        self.maxsize = maxsize

    def __getitem__(self, key):
        value = super().__getitem__(key)
        self.move_to_end(key)
        return value

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > self.maxsize:
            self.popitem(last=False)

    def __reduce__(self):  # pickle and copy with the bound (OrderedDict's has none)
        return (type(self), (self.maxsize,), None, None, iter(self.items()))


class _SegmentStore(Mapping):
    """``{(key, label): [(x, y), ...]}`` read from a folder on demand.

    Each cell's span pairs are one ``.npz`` file in ``folder`` (``index`` names
    it); at most ``_STORE_CACHE`` cells are kept in memory (least recently used
    first out). Pickles as the folder and the index only, so a task that carries
    it carries no signal.
    """

    def __init__(self, folder, index):
        self.folder, self.index = str(folder), index
        self._cache = _LRU(_STORE_CACHE)

    def __getstate__(self):
        return {"folder": self.folder, "index": self.index}

    def __setstate__(self, state):
        self.__init__(state["folder"], state["index"])

    def __getitem__(self, cell):
        if cell in self._cache:
            return self._cache[cell]
        with np.load(os.path.join(self.folder, self.index[cell])) as data:
            arrays = [data[f"arr_{i}"] for i in range(len(data.files))]
        pairs = list(zip(arrays[0::2], arrays[1::2], strict=True))
        self._cache[cell] = pairs
        return pairs

    def __iter__(self):
        return iter(self.index)

    def __len__(self):
        return len(self.index)


def _check_store_dir(store_dir, fix="pass store_dir=None"):
    """Return ``store_dir`` with ``~`` expanded (None stays None); raise unless a folder.

    ``fix`` ends the message (a run's configuration says to remove its key).
    """
    _validate_type(store_dir, (None, "path-like"), "store_dir")
    if store_dir is None:
        return None
    store_dir = os.path.expanduser(store_dir)
    if not os.path.isdir(store_dir):
        raise ValueError(
            f"store_dir {str(store_dir)!r} is not a folder: create it (one every worker can "
            f"read) or {fix}."
        )
    return store_dir


def _write_store(spans, store_dir):
    """Write each cell's span pairs into a new subfolder of ``store_dir``; a store."""
    folder = tempfile.mkdtemp(prefix="mne_dyad_segments_", dir=store_dir)
    index = {}
    try:
        for i, (cell, pairs) in enumerate(spans.items()):
            index[cell] = f"{i}.npz"
            np.savez(os.path.join(folder, index[cell]), *[a for pair in pairs for a in pair])
    except BaseException:  # a full disk, an interrupt: no half-written store is left
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return _SegmentStore(folder, index)


def _read_spans(sessions, keys, roles, signal, segments, n_jobs, n_workers, remote, folder):
    """Read every session's segments, here or (``remote``) on the workers.

    Returns ``spans`` (``{(key, label): [(x, y), ...]}``; None when ``folder`` took
    them), ``index`` (``{(key, label): file name in folder}``, or the keys of
    ``spans``), the first session's roles and the one sampling rate.
    """
    numbered = list(enumerate(keys))
    if remote:
        n_groups = max(1, min(len(keys), 4 * n_workers))
        groups = [numbered[i::n_groups] for i in range(n_groups)]
        parallel, run, _ = mne.parallel.parallel_func(_session_spans, n_jobs, total=n_groups)
        made = parallel(
            run(
                [(i, key, _source(sessions, key, True)) for i, key in group],
                roles,
                signal,
                segments,
                folder,
            )
            for group in groups
        )
        made = sorted((m for group in made for m in group), key=lambda m: m[0])
    else:
        made = _session_spans([(i, k, sessions[k]) for i, k in numbered], roles, signal, segments)
    for _, key, *_, news in made:
        _take_news(sessions, key, news)
    sfreqs = {sfreq for _, _, sfreq, *_ in made}
    if len(sfreqs) > 1:
        raise ValueError(
            f"Sessions have different sampling rates {sorted(sfreqs)}; resample them to "
            "one rate (mne_dyad.io.combine_dyad(..., sfreq=...)) before testing."
        )
    cells = {
        (key, label): value for _, key, _, _, found, _ in made for label, value in found.items()
    }
    spans = None if folder is not None else cells
    return spans, cells, made[0][3], sfreqs.pop()


def _session_spans(sources, roles, signal, segments, folder=None):
    """Each session's rate, roles and segment spans (run where the sessions are made).

    ``sources`` holds ``(number, key, source)``; with ``folder`` each cell's span
    pairs are written there (as :class:`_SegmentStore` reads them) and only the
    file name comes back. Returns ``(number, key, sfreq, roles, {label: pairs or
    file name}, news)`` per session.
    """
    out = []
    for number, key, source in sources:
        with _READING:  # no other thread records its reading while this one computes
            raw, news = _made(source)
            r = _session_roles(raw, roles)
            x, y = _session_signals(raw, r, signal)
        found = {}
        for j, label in enumerate(segments):
            spans = _segment_spans(raw, label)
            if not spans:
                continue
            pairs = [(x[a:b].copy(), y[a:b].copy()) for a, b in spans]
            if folder is None:
                found[label] = pairs
            else:
                found[label] = f"{number}_{j}.npz"
                np.savez(os.path.join(folder, found[label]), *[v for pair in pairs for v in pair])
        out.append((number, key, raw.info["sfreq"], r, found, news))
    return out


def _run_cells(
    cells, spans, spec, samples, sfreq, summaries, kind, n_sur, partners, kind_samples, seeds
):
    """Real values and surrogate values of each (key, label) cell, per summary.

    For ``"double_pseudo_dyads"`` the first ``ceil(n_sur / 2)`` surrogates pair
    the session's first role with other dyads' second roles, the others the
    other way round (``partners`` holds both lists, in that order).
    """
    # A pseudo-dyad pair names the cell's session first, so it recurs only within
    # the cell (the partner drawn again): the cache starts empty for each cell. The
    # other half of a double pseudo-dyad can be a pair another cell computed: there
    # the cache keeps the most recent pairs, whatever the task's share of the study.
    cache = _LRU(_PAIR_CACHE)
    out = []
    n_first = -(-n_sur // 2) if kind == "double_pseudo_dyads" else n_sur
    for (key, label), seed in zip(cells, seeds, strict=True):
        if kind != "double_pseudo_dyads":
            cache.clear()
        pairs = spans[(key, label)]
        real = _pooled(spec, samples, sfreq, summaries, pairs)
        sur = np.full((n_sur, len(summaries)), np.nan)
        rng = np.random.default_rng(seed)
        try:
            shifted = None
            if kind == "circular_shift":  # all shifts of a span in one batch
                shifted = _shifted_parts(spec, samples, sfreq, pairs, rng, kind_samples, n_sur)
            for r in range(n_sur):
                if kind in ("pseudo_dyads", "double_pseudo_dyads"):
                    sur_pairs, ids = _partner_pairs(
                        key, label, pairs, partners[(key, label)][r], spans, r < n_first
                    )
                    sur[r] = _pooled(spec, samples, sfreq, summaries, sur_pairs, ids, cache)
                elif shifted is not None:
                    sur[r] = _pool_parts(spec, samples, sfreq, summaries, shifted[r])
                else:
                    sur_pairs = _surrogate_pairs(kind, pairs, rng, kind_samples)
                    sur[r] = _pooled(spec, samples, sfreq, summaries, sur_pairs)
        except ValueError as exc:  # a span too short to shift or shuffle
            out.append((real, sur, f"dyad {key[0]}, session {key[1]}, {label!r}: {exc}"))
            continue
        out.append((real, sur, None))
    return out


def _double_centre(surrogates, n_first):
    """Shift the two halves of double pseudo-dyads so their mean is the two-way null.

    With ``a`` the mean of the cell's first-role surrogates (this client, other
    therapists), ``b`` that of its second-role surrogates (other clients, this
    therapist) and ``g`` the mean of all surrogates of the segment label, the
    first-role values get ``b - g`` added and the second-role values ``a - g``:
    their mean is ``a + b - g``, the value of a dyad whose partners are
    independent when a value is a client part plus a therapist part.
    ``surrogates``: (dyad, session, segment, surrogate, summary).
    """
    first, second = surrogates[..., :n_first, :], surrogates[..., n_first:, :]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        a = np.nanmean(first, axis=-2, keepdims=True)
        b = np.nanmean(second, axis=-2, keepdims=True)
        g = np.nanmean(surrogates, axis=(0, 1, 3), keepdims=True)
    return np.concatenate([first + (b - g), second + (a - g)], axis=-2)


@verbose
@fill_doc
def compare_with_surrogates(
    sessions,
    *,
    method="wclc",
    summary=None,
    kind="pseudo_dyads",
    n_surrogates=100,
    segments=("IM", "CB"),
    roles=None,
    signal="raw",
    min_shift=None,
    shuffle_segment=None,
    seed=None,
    n_jobs=1,
    store_dir=None,
    verbose=None,
    **params,
):
    """Compare each session's synchrony with its surrogate distribution.

    For each session and segment label, the synchrony ``summary`` of the real
    dyad is compared with its distribution over ``n_surrogates`` surrogates:
    ``ES = (real - mean_sur) / sd_sur`` and ``p = (1 + #{sur >= real}) / (1 +
    n_sur)``. This is the per-session half of
    :func:`mne_dyad.stats.test_above_chance`, which adds the group-level estimate
    (:func:`mne_dyad.stats.fit_chance_model`).

    Parameters
    ----------
    %(sessions)s
    %(chance_options)s
    %(seed)s
    %(n_jobs)s
    %(store_dir)s
    %(verbose)s
    **params
        Method parameters.

    Returns
    -------
    result : xarray.Dataset
        On ``dyad x session x segment``: ``observed`` (the real dyads), ``sur_mean``, ``sur_sd``,
        ``es``, ``p`` and ``surrogates`` (with a ``surrogate`` dim). When
        ``summary`` is a list, every variable also runs along a ``summary`` dim:
        the summaries of one set of surrogates (pass it to
        :func:`chance_corrected` as ``comparison``, and one summary of it,
        ``result.sel(summary=...)``, to :func:`mne_dyad.stats.fit_chance_model`).

    Examples
    --------
    >>> import mne_dyad as md
    >>> study = md.simulation.simulate_study(n_dyads=5, n_sessions=2, n_usable=8,
    ...                                      duration=600, seed=0)
    >>> res = md.surrogates.compare_with_surrogates(study, n_surrogates=10, seed=1,
    ...                                             verbose="error")
    >>> float(res.p.min()) > 0, res.surrogates.dims  # NaN cells: missing sessions
    (True, ('dyad', 'session', 'segment', 'surrogate'))
    """
    sessions = _as_sessions(sessions)
    spec, params = _check_method(method, params)
    segments = _check_segments(segments)
    _check_option("kind", kind, KINDS)
    _check_option("signal", signal, _SIGNALS)
    n_sur = _check_n(n_surrogates)
    summaries, one = _check_summaries(spec, method, summary)
    _validate_type(seed, (None, "int-like", np.random.Generator), "seed")
    if isinstance(seed, np.random.Generator):
        seed = int(seed.integers(2**63))
    store_dir = _check_store_dir(store_dir)
    root = np.random.SeedSequence(seed)

    keys = list(sessions)
    if kind == "circular_shift":
        m = _default_scale(method, params, "shift") if min_shift is None else min_shift
        kind_seconds = _check_positive(m, "min_shift", allow_zero=True)
    elif kind == "segment_shuffle":
        seg = (
            _default_scale(method, params, "segment")
            if shuffle_segment is None
            else shuffle_segment
        )
        kind_seconds = _check_positive(seg, "shuffle_segment")
    # the number of workers (n_jobs=None: those of the active joblib backend, e.g. a
    # dask cluster's) sets only how sessions and cells are grouped into tasks: each
    # cell has its own seed, so the surrogates do not depend on it
    n_jobs = _n_jobs(n_jobs)
    _, sent, n_workers = mne.parallel.parallel_func(_run_cells, n_jobs, verbose=False)
    # a study's sessions are read on the workers when the work leaves this process:
    # with a store, their segments go from there to the store, and only the index
    # comes back
    remote = _leaves_process(sent, _run_cells) and _is_lazy(sessions)
    folder = None
    if store_dir is not None and remote:
        folder = tempfile.mkdtemp(prefix="mne_dyad_segments_", dir=store_dir)
    try:
        spans, index, first_roles, sfreq = _read_spans(
            sessions, keys, roles, signal, segments, n_jobs, n_workers, remote, folder
        )
        samples = spec.samples(params, sfreq)
        kind_samples = None
        if kind in ("circular_shift", "segment_shuffle"):
            kind_samples = int(round(kind_seconds * sfreq))
        cells = sorted(index, key=lambda c: (str(c[0]), c[1]))
        if not cells:
            raise ValueError(f"No session has any of the segments {list(segments)}.")
        partners = None
        n_first = -(-n_sur // 2) if kind == "double_pseudo_dyads" else n_sur
        if kind in ("pseudo_dyads", "double_pseudo_dyads"):
            present = {key: set() for key in keys}
            for key, label in index:
                present[key].add(label)
            rng = np.random.default_rng(root.spawn(1)[0])
            partners = _draw_partners(present, segments, n_first, rng)
            if n_first < n_sur:  # the other half: other clients with this therapist
                others = _draw_partners(present, segments, n_sur - n_first, rng)
                partners = {c: partners[c] + others[c] for c in partners}
        cell_seeds = root.spawn(len(cells) + 1)[1:]
        logger.info(
            f"Chance test: {method} {', '.join(summaries)} of {len(cells)} session segments "
            f"against {n_sur} {kind} surrogates each."
        )
        n_chunks = max(1, min(len(cells), 4 * n_workers))
        chunks = [list(range(i, len(cells), n_chunks)) for i in range(n_chunks)]
        parallel, run, _ = mne.parallel.parallel_func(_run_cells, n_jobs, total=len(chunks))
        store = None
        if store_dir is not None:  # the tasks read their segments from the store
            store = (
                _SegmentStore(folder, index) if spans is None else _write_store(spans, store_dir)
            )
            folder = store.folder

        def needed(idx):
            if store is not None:
                return store
            own = {cells[i] for i in idx}
            if partners is not None:
                own |= {(p, c[1]) for c in list(own) for p in partners[c]}
            return {c: spans[c] for c in own}

        results = parallel(
            run(
                [cells[i] for i in idx],
                needed(idx),
                spec,
                samples,
                sfreq,
                summaries,
                kind,
                n_sur,
                None if partners is None else {cells[i]: partners[cells[i]] for i in idx},
                kind_samples,
                [cell_seeds[i] for i in idx],
            )
            for idx in chunks
        )
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
    by_cell = {}
    for idx, res in zip(chunks, results, strict=True):
        for i, item in zip(idx, res, strict=True):
            by_cell[cells[i]] = item
    for _, _, problem in by_cell.values():
        if problem:
            warn(f"Surrogates left out for {problem}")

    dyads = _sorted_ids([k[0] for k in keys], "dyad")
    session_ids = _sorted_ids([k[1] for k in keys], "session")
    shape = (len(dyads), len(session_ids), len(segments))
    real = np.full((*shape, len(summaries)), np.nan)
    surrogates = np.full((*shape, n_sur, len(summaries)), np.nan)
    for (key, label), (value, sur, _) in by_cell.items():
        idx = (dyads.index(key[0]), session_ids.index(key[1]), segments.index(label))
        real[idx] = value
        surrogates[idx] = sur
    if kind == "double_pseudo_dyads":
        surrogates = _double_centre(surrogates, n_first)
    surrogates = np.moveaxis(surrogates, -2, -1)  # (..., summary, surrogate)
    with np.errstate(invalid="ignore", divide="ignore"):
        n_valid = np.isfinite(surrogates).sum(-1)
        sur_mean = np.where(n_valid > 0, np.nansum(surrogates, -1) / np.maximum(n_valid, 1), np.nan)
        sur_sd = np.sqrt(
            np.nansum((surrogates - sur_mean[..., None]) ** 2, -1) / np.maximum(n_valid - 1, 1)
        )
        sur_sd[n_valid < 2] = np.nan
        # all surrogates equal (e.g. a span of two shuffle pieces has one reordering)
        constant = sur_sd <= 1e-12 * np.maximum(1.0, np.abs(sur_mean))
        es = np.where(constant, np.nan, (real - sur_mean) / sur_sd)
        p = (1 + (surrogates >= real[..., None]).sum(-1)) / (1 + n_valid)
    p[~np.isfinite(real) | (n_valid == 0)] = np.nan
    constant = constant.any(-1)

    if constant.any():
        cells = [
            f"dyad {dyads[i]}, session {session_ids[j]}, {segments[k]}"
            for i, j, k in zip(*np.nonzero(constant), strict=True)
        ]
        hint = (
            " A segment that holds only two shuffle pieces has a single reordering: use "
            "a shorter shuffle_segment, or kind='pseudo_dyads'."
            if kind == "segment_shuffle"
            else ""
        )
        warn(
            f"All {n_sur} surrogates are identical in {len(cells)} cell(s) "
            f"({'; '.join(cells[:5])}{' ...' if len(cells) > 5 else ''}): their effect "
            f"size is NaN, not infinite.{hint}"
        )

    dims = ("dyad", "session", "segment", "summary")
    what = summaries[0] if one else "the summary"
    out = xr.Dataset(
        {
            "observed": (dims, real, {"long_name": f"{what} of the real dyads"}),
            "sur_mean": (dims, sur_mean, {"long_name": f"mean surrogate {what}"}),
            "sur_sd": (dims, sur_sd, {"long_name": f"SD of surrogate {what}"}),
            "es": (dims, es, {"long_name": "effect size (real - mean) / SD of surrogates"}),
            "p": (dims, p, {"long_name": "p = (1 + #{surrogate >= real}) / (1 + n)"}),
            "surrogates": ((*dims, "surrogate"), surrogates, {"long_name": f"surrogate {what}"}),
        },
        coords={
            "dyad": np.array(dyads, dtype=object if isinstance(dyads[0], str) else None),
            "session": session_ids,
            "segment": np.array(segments, dtype=object),
            "summary": np.array(summaries, dtype=object),
            "surrogate": np.arange(n_sur),
        },
    )
    if one:
        out = out.squeeze("summary", drop=True)
    out.attrs.update(
        method=method,
        summary=summaries[0] if one else list(summaries),
        kind=kind,
        n_surrogates=n_sur,
        mne_dyad_params=json.dumps(
            {
                "method": method,
                "summary": summaries[0] if one else list(summaries),
                "kind": kind,
                "n_surrogates": n_sur,
                "segments": list(segments),
                "roles": list(first_roles),
                "signal": signal,
                "seed": seed,
                "min_shift_samples": kind_samples if kind == "circular_shift" else None,
                "shuffle_segment_samples": kind_samples if kind == "segment_shuffle" else None,
                **{k: v for k, v in params.items() if k != "seed"},
                "mne_dyad_version": __version__,
            },
            sort_keys=True,
            default=list,
        ),
    )
    return out
