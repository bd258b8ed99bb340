"""Synchrony kernels against the machine's arithmetic bound, measured in one run (issue 15, 6).

One simulated 50-minute session at 8 Hz; WCLC with window 30 s, lag 10 s, step
15 s; SUSY with 30-s segments, max lag 10 s, every segment pair (the real pairs
and all the surrogate pairs).

The bound is what numpy's BLAS does on this machine, single-threaded and with
all threads: a 1000 x 1000 float64 matrix product, counted in multiply-adds
(MACs) per second. Each kernel's work is counted as the MACs of the direct
computation it replaces:

- WCLC: ``K windows x (2 L + 1) lags x w`` for the cross-products, the term that
  dominates (the sums and sums of squares come from cumulative sums);
- SUSY: ``pairs x (2 M + 1) lags x S`` for the cross-correlation of every pair
  of segments, which mne-dyad computes with one FFT per segment and one product
  per pair.

The script prints each kernel's time (best of several runs), its MAC rate and
that rate as a share of the single-threaded BLAS rate. A share near 1 means the
kernel runs at the speed of the best dense arithmetic the machine has; above 1,
its algorithm does less work than the direct computation it is counted as.

Run: python benchmarks/bench_kernels.py
"""

import os
import time

import mne
import numpy as np

import mne_dyad as md
from mne_dyad.synchrony._susy import _cut, _susy_profiles

SFREQ, WINDOW, LAG, STEP, SEGMENT = 8.0, 30.0, 10.0, 15.0, 30.0


def best(func, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return min(times)


def blas_rate(threads):
    """MACs per second of a 1000 x 1000 float64 product with ``threads`` BLAS threads."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        threadpool_limits = None
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(1000, 1000)), rng.normal(size=(1000, 1000))
    if threadpool_limits is None:
        return 1e9 / best(lambda: a @ b, 5)
    with threadpool_limits(limits=threads, user_api="blas"):
        a @ b
        return 1e9 / best(lambda: a @ b, 5)


def main():
    mne.set_log_level("ERROR")
    raw = md.simulation.simulate_session(duration=3000.0, sfreq=SFREQ, seed=0)
    x, y = raw.get_data()
    w, L, s = (int(round(v * SFREQ)) for v in (WINDOW, LAG, STEP))
    one, all_ = blas_rate(1), blas_rate(os.cpu_count())
    print(
        f"BLAS (1000 x 1000 float64 product): {one / 1e9:.2f} GMAC/s on 1 thread, "
        f"{all_ / 1e9:.2f} GMAC/s on {os.cpu_count()} threads"
    )

    def wclc():
        return md.synchrony.wclc(x, y, SFREQ, lag=LAG, window=WINDOW, step=STEP)

    K = wclc().sizes["window"]
    t = best(wclc, 20)
    macs = K * (2 * L + 1) * w
    print(
        f"WCLC  {K} windows x {2 * L + 1} lags x {w} samples = {macs / 1e6:.1f} M MACs in "
        f"{t * 1e3:.1f} ms: {macs / t / 1e9:.2f} GMAC/s, {macs / t / one:.2f} of 1-thread BLAS"
    )

    S, M = int(round(SEGMENT * SFREQ)), int(round(LAG * SFREQ))
    seg_x, seg_y = _cut(x, y, S)
    n_seg = seg_x.shape[0]
    t = best(lambda: _susy_profiles(seg_x, seg_y, M), 20)
    macs = n_seg * n_seg * (2 * M + 1) * S  # every ordered pair: real and surrogates
    print(
        f"SUSY  {n_seg} segments, {n_seg * n_seg} pairs x {2 * M + 1} lags x {S} samples = "
        f"{macs / 1e6:.1f} M MACs in {t * 1e3:.1f} ms: {macs / t / 1e9:.2f} GMAC/s, "
        f"{macs / t / one:.2f} of 1-thread BLAS"
    )


if __name__ == "__main__":
    main()
