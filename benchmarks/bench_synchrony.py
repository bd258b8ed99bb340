"""Synchrony at study scale, measured in one run against loop references.

A paper-sized simulated study: 128 sessions x 50 min x 8 Hz (31 dyads), WCLC
with lag 10 s, window 30 s, step 15 s. Prints:

- the WCLC cube time and its ratio against a per-window, per-lag loop written
  from docs/methods.rst, section methods-wclc (target >= 50x, identical values);
- SUSY (segment 30 s, max lag 10 s) against a loop over segment pairs, one
  cross-correlation each, as the SUSY R package computes it;
- the time for 1,000 pseudo-dyad surrogates of every session and segment of the
  whole study, group model included (target < 2 minutes on 2 cores);
- the peak memory of the run, workers included (target < 2 GB).

Run: python benchmarks/bench_synchrony.py [--n-jobs 2] [--n-surrogates 1000]
"""

import argparse
import resource
import time

import mne
import numpy as np

import mne_dyad as md
from mne_dyad.synchrony._api import _segment_spans, _session_signals
from mne_dyad.synchrony._reference import _susy_pairs_loop, _wclc_loop
from mne_dyad.synchrony._susy import _susy_summaries
from mne_dyad.synchrony._wclc import _WINDOW_SUMMARIES, _window_summaries

LAG, WINDOW, STEP = 10.0, 30.0, 15.0
SEGMENT, MAX_LAG = 30.0, 10.0


def spans_of(study):
    for key, raw in study.raws.items():
        x, y = _session_signals(raw, ("client", "therapist"))
        for label in ("IM", "CB"):
            yield key, label, [(x[a:b], y[a:b]) for a, b in _segment_spans(raw, label)]


def wclc_loop_cube(study, sfreq):
    """The cube's window summaries by the loop reference, pooled the same way."""
    w, L, s = (int(round(v * sfreq)) for v in (WINDOW, LAG, STEP))
    lags = np.arange(-L, L + 1) / sfreq
    out = {}
    for key, label, pairs in spans_of(study):
        per_window = [_window_summaries(_wclc_loop(x, y, w, L, s), lags) for x, y in pairs]
        out[(key, label)] = {
            k: np.nanmean(np.concatenate([p[k] for p in per_window])) for k in _WINDOW_SUMMARIES
        }
    return out


def susy_loop_cube(study, sfreq):
    S, M = int(round(SEGMENT * sfreq)), int(round(MAX_LAG * sfreq))
    out = {}
    for key, label, pairs in spans_of(study):
        # SUSY pools the segments of every span of a label: cut each, then stack
        x = np.concatenate([p[0][: (p[0].size // S) * S] for p in pairs])
        y = np.concatenate([p[1][: (p[1].size // S) * S] for p in pairs])
        out[(key, label)] = _susy_summaries(_susy_pairs_loop(x, y, S, M), M)["Z"]
    return out


def timed(func, *args, **kwargs):
    t0 = time.perf_counter()
    result = func(*args, **kwargs)
    return time.perf_counter() - t0, result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--n-surrogates", type=int, default=1000)
    args = parser.parse_args()
    mne.set_log_level("WARNING")
    t_sim, study = timed(md.simulation.simulate_study, seed=0)
    sfreq = 8.0
    n_samples = sum(r.n_times for r in study.raws.values())
    print(
        f"study: {len(study.raws)} sessions, {n_samples / sfreq / 3600:.1f} h of dyadic EDA "
        f"at {sfreq:g} Hz (simulated in {t_sim:.1f} s)"
    )

    # WCLC cube vs loop
    md.synchrony_cube(dict(list(study.raws.items())[:2]), lag=LAG, window=WINDOW, step=STEP)
    t_cube, cube = timed(md.synchrony_cube, study.raws, lag=LAG, window=WINDOW, step=STEP)
    t_loop, ref = timed(wclc_loop_cube, study, sfreq)
    diff = max(
        abs(float(cube[k].sel(dyad=d, session=s, segment=g)) - v[k])
        for (d, s), g in [(key, lab) for key, lab in ((k[0], k[1]) for k in ref)]
        for k in _WINDOW_SUMMARIES
        for v in [ref[((d, s), g)]]
        if np.isfinite(v[k])
    )
    print(
        f"WCLC cube      : {t_cube:7.2f} s vectorised, {t_loop:7.2f} s loop reference, "
        f"ratio {t_loop / t_cube:6.1f}x (target >= 50)  max |diff| {diff:.1e}"
    )

    # SUSY vs pair loop
    t_susy, susy = timed(
        md.synchrony_cube, study.raws, method="susy", segment=SEGMENT, max_lag=MAX_LAG
    )
    t_sloop, sref = timed(susy_loop_cube, study, sfreq)
    sdiff = max(
        abs(float(susy.Z.sel(dyad=k[0], session=k[1], segment=g)) - v)
        for (k, g), v in sref.items()
        if np.isfinite(v)
    )
    print(
        f"SUSY cube      : {t_susy:7.2f} s vectorised, {t_sloop:7.2f} s pair loop (R's way), "
        f"ratio {t_sloop / t_susy:6.1f}x  max |diff| of Z {sdiff:.1e}"
    )

    # surrogates
    t_sur, res = timed(
        md.stats.test_above_chance,
        study,
        n_surrogates=args.n_surrogates,
        kind="pseudo_dyads",
        n_jobs=args.n_jobs,
        seed=1,
        verbose="error",
    )
    n_cells = int(np.isfinite(res["observed"]).sum())
    print(
        f"pseudo-dyads   : {args.n_surrogates} surrogates x {n_cells} session segments in "
        f"{t_sur:6.1f} s on {args.n_jobs} jobs (target < 120 s); "
        f"delta IM {float(res.delta_mean.sel(segment='IM')):.3f}, "
        f"P(delta > 0) {float(res.p_delta_gt_0.sel(segment='IM')):.3f}"
    )

    peak = (
        max(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        )
        / 1024**2
    )
    print(f"peak memory    : {peak:.2f} GB (largest process; target < 2 GB)")


if __name__ == "__main__":
    main()
