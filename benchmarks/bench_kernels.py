"""Synchrony kernels against the machine's arithmetic bound, measured in one run (issue 15, 6).

One simulated 50-minute session at 8 Hz; WCLC with window 30 s, lag 10 s, step
15 s; SUSY with 30-s segments, max lag 10 s, every segment pair (the real pairs
and all the surrogate pairs).

The bound is what numpy's BLAS does on this machine, single-threaded and with
all threads: a 1000 x 1000 float64 matrix product, counted in multiply-adds
(MACs) per second. Each kernel's work is counted as the MACs of the direct
computation it replaces:

- WCLC: ``K windows x (2 L + 1) lags x w`` for the cross-products, the term that
  dominates (the sums and sums of squares come from cumulative sums); mne-dyad takes
  them by FFT for long windows with many lags (the default), and the script times
  that against ``einsum`` over sliding views (what it did before), for one call and
  for the chance step's batch of 200 circular shifts, on signals without gaps and
  with them (in a chunk of windows with any gap every sum is a cross-product, all
  six by FFT or all six by ``einsum``; the code before took the cross-product of the
  values alone by FFT there), with the batch's peak memory both ways;
- SUSY: ``pairs x (2 M + 1) lags x S`` for the cross-correlation of every pair
  of segments, which mne-dyad computes as one matrix product per lag (of the
  segments' overlapping parts). The script also times that step against FFT
  cross-spectra of every pair, which it used before.

The script prints each kernel's time (best of several runs), its MAC rate and
that rate as a share of the single-threaded BLAS rate. A share near 1 means the
kernel runs at the speed of the best dense arithmetic the machine has; above 1,
its algorithm does less work than the direct computation it is counted as.

Run: python benchmarks/bench_kernels.py
"""

import os
import time
import tracemalloc

import mne
import numpy as np
from scipy.fft import irfft, next_fast_len, rfft

import mne_dyad as md
from mne_dyad.synchrony import _kernels
from mne_dyad.synchrony._susy import _cut, _lagged_products, _susy_profiles

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


def _fft_every_pair(a, b, M, block=2_000_000):
    """SUSY's cross-products of every pair as mne-dyad computed them before: FFT
    cross-spectra of each row of segments against every other, in blocks."""
    n, S = a.shape
    nfft = next_fast_len(2 * S - 1)
    fa, fb = rfft(a, nfft, axis=1), rfft(b, nfft, axis=1)
    lag_index = np.r_[np.arange(nfft - M, nfft), np.arange(M + 1)]
    out = np.empty((2 * M + 1, n * n))
    rows = max(1, block // (n * fa.shape[1]))
    for i0 in range(0, n, rows):
        i1 = min(i0 + rows, n)
        cc = irfft(fa[i0:i1, None, :] * np.conj(fb[None, :, :]), nfft, axis=-1)
        out[:, i0 * n : i1 * n] = cc[..., lag_index].reshape(-1, 2 * M + 1).T
    return out


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

    # its cross-products by FFT (long windows, many lags: the default) against einsum
    # over sliding views (what it did before), for one call and for the chance
    # step's batch: one 25-minute segment against 200 circular shifts of the other
    shifted = np.stack([np.roll(y[:12000], k) for k in range(200, 12000, 59)][:200])
    # the same with gaps (10 s missing every 5 minutes in each signal, as rejected
    # artifacts leave them): every sum of a window with a gap is a cross-product
    gappy_x, gappy_y = x.copy(), y.copy()
    for start in range(0, x.size - 80, 2400):
        gappy_x[start + 600 : start + 680] = np.nan
        gappy_y[start + 1700 : start + 1780] = np.nan
    gappy_shifted = np.stack([np.roll(gappy_y[:12000], k) for k in range(200, 12000, 59)][:200])

    def gappy():
        return md.synchrony.wclc(gappy_x, gappy_y, SFREQ, lag=LAG, window=WINDOW, step=STEP)

    def gappy_batch():
        return _kernels._lagged_corr(gappy_x[:12000], gappy_shifted, w, L, s)

    def peak(func):  # the most memory numpy held during one call, above before it
        tracemalloc.start()
        func()
        top = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return top

    default, times = _kernels._FFT_RATIO, {}
    try:
        for way, ratio in (("FFT", default), ("einsum", np.inf)):
            _kernels._FFT_RATIO = ratio
            times[way] = (
                best(wclc, 20),
                best(lambda: _kernels._lagged_corr(x[:12000], shifted, w, L, s), 3),
                best(gappy, 20),
                best(gappy_batch, 3),
                peak(gappy_batch),
            )
    finally:
        _kernels._FFT_RATIO = default
    fft, ein = times["FFT"], times["einsum"]
    labels = ("without gaps, cross-products", "with gaps, every sum")
    for label, k in zip(labels, (0, 2), strict=True):
        print(
            f"WCLC  {label} by FFT against einsum: one call "
            f"{fft[k] * 1e3:.1f} against {ein[k] * 1e3:.1f} ms (ratio {ein[k] / fft[k]:.2f}); "
            f"200 circular shifts of a 25-min segment {fft[k + 1]:.2f} against "
            f"{ein[k + 1]:.2f} s (ratio {ein[k + 1] / fft[k + 1]:.2f})"
        )
    print(
        f"WCLC  with gaps, peak memory of the 200 shifts: {fft[4] / 2**20:.0f} MiB by FFT, "
        f"{ein[4] / 2**20:.0f} MiB by einsum (ratio {fft[4] / ein[4]:.2f})"
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
    # its cross-products of every pair: one matrix product per lag (what it does)
    # against FFT cross-spectra of every pair (what it did before)
    a = seg_x - seg_x.mean(axis=1, keepdims=True)
    b = seg_y - seg_y.mean(axis=1, keepdims=True)
    t_gemm = best(lambda: _lagged_products(a, b, M), 20)
    t_fft = best(lambda: _fft_every_pair(a, b, M), 20)
    print(
        f"SUSY  cross-products of every pair: {t_gemm * 1e3:.1f} ms by a matrix product per "
        f"lag, {t_fft * 1e3:.1f} ms by FFT cross-spectra (ratio {t_fft / t_gemm:.2f})"
    )


if __name__ == "__main__":
    main()
