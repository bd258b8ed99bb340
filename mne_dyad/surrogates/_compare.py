"""Synchrony of the real dyads beside its surrogate distribution, per session.

Surrogate values, effect sizes and p-values per session and segment
(docs/methods.rst, section methods-surrogates). The group-level model of the
excess over chance is a PyMC model and lives in :mod:`mne_dyad.stats`.
"""

import json

import mne
import numpy as np
import xarray as xr
from mne.utils import _check_option, _validate_type, logger, verbose, warn

from .._version import __version__
from ..io._session import (
    _SIGNALS,
    _as_sessions,
    _check_segments,
    _segment_spans,
    _session_roles,
    _session_signals,
    _sorted_ids,
)
from ..synchrony._api import _check_method
from ..synchrony._registry import _SpanTooShort
from ..utils._checks import _check_positive
from ..utils._docs import fill_doc
from ._iaaft import _iaaft_nan
from ._pseudo_dyads import _draw_partners, _labels_present
from ._shuffle import _check_n, _shift_offsets, _shuffle_segments

KINDS = ("pseudo_dyads", "circular_shift", "segment_shuffle", "iaaft")


def _default_scale(method, params, what):
    """Default minimal circular shift or shuffle segment (s) for a method."""
    if method in ("wclc", "peak_picking"):
        return 2 * params["lag"] if what == "shift" else params["window"]
    if method == "susy":
        return 2 * params["max_lag"] if what == "shift" else params["segment"]
    if method == "concordance":
        return params["corr_window"]
    return params["window"]  # phase


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


def _pooled(spec, samples, sfreq, summary, pairs, ids=None, cache=None):
    """Summary of several span pairs pooled as ``compute_synchrony`` pools spans."""
    partials, reduced = [], []
    for k, (xs, ys) in enumerate(pairs):
        key = None if ids is None else ids[k]
        if cache is not None and key in cache:
            reduced.append(cache[key])
            continue
        part = _partial(spec, samples, sfreq, xs, ys)
        red = (0.0, 0) if part is None else spec.reduce(part, summary)
        if red is None:  # the summary does not pool as a weighted mean
            if part is not None:
                partials.append(part)
            continue
        if cache is not None:
            cache[key] = red
        reduced.append(red)
    if reduced and not partials:
        total, weight = map(sum, zip(*reduced, strict=True))
        return total / weight if weight else np.nan
    values = spec.pool(partials, sfreq, samples) if partials else None
    return np.nan if values is None else float(values[summary])


def _surrogate_pairs(kind, pairs, rng, kind_samples):
    """Within-session surrogate of each span pair: (x, y*)."""
    out = []
    for xs, ys in pairs:
        if kind == "circular_shift":
            offset = _shift_offsets(ys.size, kind_samples, 1, rng)[0]
            out.append((xs, np.roll(ys, offset)))
        elif kind == "segment_shuffle":
            out.append((xs, _shuffle_segments(ys, kind_samples, rng)))
        else:
            out.append((xs, _iaaft_nan(ys, rng)))
    return out


def _run_cells(
    cells, spans, spec, samples, sfreq, summary, kind, n_sur, partners, kind_samples, seeds
):
    """Real value and surrogate values of each (key, label) cell."""
    cache = {}
    out = []
    for (key, label), seed in zip(cells, seeds, strict=True):
        pairs = spans[(key, label)]
        real = _pooled(spec, samples, sfreq, summary, pairs)
        sur = np.full(n_sur, np.nan)
        rng = np.random.default_rng(seed)
        try:
            for r in range(n_sur):
                if kind == "pseudo_dyads":
                    partner = partners[(key, label)][r]
                    theirs = spans[(partner, label)]
                    sur_pairs = [
                        (xs, theirs[k % len(theirs)][1]) for k, (xs, _) in enumerate(pairs)
                    ]
                    ids = [(key, label, k, partner, k % len(theirs)) for k in range(len(pairs))]
                    sur[r] = _pooled(spec, samples, sfreq, summary, sur_pairs, ids, cache)
                else:
                    sur_pairs = _surrogate_pairs(kind, pairs, rng, kind_samples)
                    sur[r] = _pooled(spec, samples, sfreq, summary, sur_pairs)
        except ValueError as exc:  # a span too short to shift or shuffle
            out.append((real, sur, f"dyad {key[0]}, session {key[1]}, {label!r}: {exc}"))
            continue
        out.append((real, sur, None))
    return out


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
    %(verbose)s
    **params
        Method parameters.

    Returns
    -------
    result : xarray.Dataset
        On ``dyad x session x segment``: ``observed`` (the real dyads), ``sur_mean``, ``sur_sd``,
        ``es``, ``p`` and ``surrogates`` (with a ``surrogate`` dim).

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
    summary = spec.main_summary if summary is None else summary
    if summary not in spec.variables or summary in spec.lag_variables:
        scalars = [v for v in spec.variables if v not in spec.lag_variables]
        raise ValueError(f"summary={summary!r} is not a scalar output of {method}: {scalars}.")
    _validate_type(seed, (None, "int-like", np.random.Generator), "seed")
    if isinstance(seed, np.random.Generator):
        seed = int(seed.integers(2**63))
    root = np.random.SeedSequence(seed)

    keys = list(sessions)
    sfreqs = {sessions[k].info["sfreq"] for k in keys}
    if len(sfreqs) > 1:
        raise ValueError(
            f"Sessions have different sampling rates {sorted(sfreqs)}; resample them to "
            "one rate (mne_dyad.io.combine_dyad(..., sfreq=...)) before testing."
        )
    sfreq = sfreqs.pop()
    samples = spec.samples(params, sfreq)
    kind_samples = None
    if kind == "circular_shift":
        m = _default_scale(method, params, "shift") if min_shift is None else min_shift
        kind_samples = int(round(_check_positive(m, "min_shift", allow_zero=True) * sfreq))
    elif kind == "segment_shuffle":
        seg = (
            _default_scale(method, params, "segment")
            if shuffle_segment is None
            else (shuffle_segment)
        )
        kind_samples = int(round(_check_positive(seg, "shuffle_segment") * sfreq))

    spans = {}
    first_roles = None
    for key in keys:
        raw = sessions[key]
        r = _session_roles(raw, roles)
        first_roles = first_roles or r
        x, y = _session_signals(raw, r, signal)
        for label in segments:
            found = _segment_spans(raw, label)
            if found:
                spans[(key, label)] = [(x[a:b].copy(), y[a:b].copy()) for a, b in found]
    cells = sorted(spans, key=lambda c: (str(c[0]), c[1]))
    if not cells:
        raise ValueError(f"No session has any of the segments {list(segments)}.")
    partners = None
    if kind == "pseudo_dyads":
        present = _labels_present(sessions, segments)
        partners = _draw_partners(present, segments, n_sur, np.random.default_rng(root.spawn(1)[0]))
    cell_seeds = root.spawn(len(cells) + 1)[1:]
    logger.info(
        f"Chance test: {method} {summary} of {len(cells)} session segments against "
        f"{n_sur} {kind} surrogates each."
    )
    n_chunks = max(1, min(len(cells), 4 * max(1, n_jobs if n_jobs > 0 else 4)))
    chunks = [list(range(i, len(cells), n_chunks)) for i in range(n_chunks)]
    parallel, run, _ = mne.parallel.parallel_func(_run_cells, n_jobs, total=len(chunks))

    def needed(idx):
        own = {cells[i] for i in idx}
        if kind == "pseudo_dyads":
            own |= {(p, c[1]) for c in list(own) for p in partners[c]}
        return {c: spans[c] for c in own}

    results = parallel(
        run(
            [cells[i] for i in idx],
            needed(idx),
            spec,
            samples,
            sfreq,
            summary,
            kind,
            n_sur,
            None if partners is None else {cells[i]: partners[cells[i]] for i in idx},
            kind_samples,
            [cell_seeds[i] for i in idx],
        )
        for idx in chunks
    )
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
    real = np.full(shape, np.nan)
    surrogates = np.full((*shape, n_sur), np.nan)
    for (key, label), (value, sur, _) in by_cell.items():
        idx = (dyads.index(key[0]), session_ids.index(key[1]), segments.index(label))
        real[idx] = value
        surrogates[idx] = sur
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

    dims = ("dyad", "session", "segment")
    out = xr.Dataset(
        {
            "observed": (dims, real, {"long_name": f"{summary} of the real dyads"}),
            "sur_mean": (dims, sur_mean, {"long_name": f"mean surrogate {summary}"}),
            "sur_sd": (dims, sur_sd, {"long_name": f"SD of surrogate {summary}"}),
            "es": (dims, es, {"long_name": "effect size (real - mean) / SD of surrogates"}),
            "p": (dims, p, {"long_name": "p = (1 + #{surrogate >= real}) / (1 + n)"}),
            "surrogates": ((*dims, "surrogate"), surrogates, {"long_name": f"surrogate {summary}"}),
        },
        coords={
            "dyad": np.array(dyads, dtype=object if isinstance(dyads[0], str) else None),
            "session": session_ids,
            "segment": np.array(segments, dtype=object),
            "surrogate": np.arange(n_sur),
        },
    )
    out.attrs.update(
        method=method,
        summary=summary,
        kind=kind,
        n_surrogates=n_sur,
        mne_dyad_params=json.dumps(
            {
                "method": method,
                "summary": summary,
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
