"""Vectorised windowed lagged correlation: the hot path of mne-dyad.

All windows and lags of a segment are computed with array operations on strided
views: no Python loop runs over windows or lags. The rules follow docs/methods.rst,
section methods-wclc (rMEA's convention):

- ``K = ceil((N - w - L + 1) / s)`` windows; window ``k`` spans samples
  ``[k*s, k*s + w + L)``.
- lag ``l >= 0`` pairs ``x[k*s + t]`` with ``y[k*s + l + t]``; lag ``l < 0`` pairs
  ``x[k*s + |l| + t]`` with ``y[k*s + t]``, ``t = 0..w-1``.
- Pearson r over complete pairs; a window with more than half of its ``w + L``
  samples of x or of y missing is NaN; r is NaN for fewer than 3 complete pairs or
  a (numerically) constant slice.
"""

import numpy as np
import scipy.fft as sp_fft
from numpy.lib.stride_tricks import sliding_window_view

#: A slice is constant when its SD is below this fraction of the signal's scale.
_CONSTANT_RTOL = 1e-10
#: Fisher z values are clipped to +-_Z_CLIP (atanh(+-1) is infinite).
_Z_CLIP = 10.0


def _n_windows(n_times, w, L, s):
    """Count the complete windows of ``w + L`` samples moved by ``s`` samples."""
    return max(-(-(n_times - w - L + 1) // s), 0)


def _scale(a):
    """Largest finite ``|a|`` of each row (last axis), shaped ``(..., 1, 1)``."""
    finite = np.isfinite(a)
    biggest = np.where(finite, np.abs(np.where(finite, a, 0.0)), 0.0).max(axis=-1, initial=0.0)
    return biggest[..., None, None]


def _centered_blocks(a, K, B, s):
    """Blocks (..., K, B) of ``a`` centred on their own finite mean, with a validity mask."""
    blocks = sliding_window_view(a, B, axis=-1)[..., : (K - 1) * s + 1 : s, :]
    mask = np.isfinite(blocks)
    n_ok = mask.sum(axis=-1)
    sums = np.where(mask, blocks, 0.0).sum(axis=-1)
    means = np.divide(sums, n_ok, out=np.zeros(n_ok.shape), where=n_ok > 0)
    centered = np.where(mask, blocks - means[..., None], 0.0)
    return centered, mask, n_ok


#: The cross-products of a fixed slice with its sliding slices are taken by FFT when
#: ``n_lags * w`` is at least this many times ``n log2 n`` (``n`` the FFT length):
#: about where the FFT overtook ``einsum`` on a 2-core machine (1.3 to 2.3 times as
#: fast at ratios of 3.4 to 4.3, 3 times at 7.3, the default window and lag at 8 Hz;
#: below 2.5 it was as often slower as faster).
_FFT_RATIO = 3.5


def _cross_sums(f, sl, w, n_lags):
    """``sum_t f[..., t] sl[..., l + t]`` for ``l = 0..n_lags-1``; (..., K, n_lags).

    ``f`` (..., K, w) and ``sl`` (..., K, B) hold no NaN (zeros where missing); their
    leading dims broadcast. Long windows with many lags go through a real FFT of a
    length ``n >= B``, which holds every product without wrapping around (``l + t <=
    n_lags - 1 + w - 1 <= B - 1``); the sums equal the direct ones to rounding.
    """
    n = _fft_length(w, n_lags, sl.shape[-1])
    if n is None:
        view = sliding_window_view(sl, w, axis=-1)[..., :n_lags, :]  # no copy
        return np.einsum("...kw,...klw->...kl", f, view)
    spectrum = np.conj(sp_fft.rfft(f, n)) * sp_fft.rfft(sl, n)
    return sp_fft.irfft(spectrum, n)[..., :n_lags]


def _fft_length(w, n_lags, length):
    """Return the FFT length for :func:`_cross_sums` of slices of ``length``; None: direct."""
    n = sp_fft.next_fast_len(length, real=True)
    return n if n_lags * w >= _FFT_RATIO * n * np.log2(n) else None


def _pair_sums(f, mf, sl, ms, w, n_lags, clean):
    """Sum over complete pairs of a fixed slice against sliding slices.

    ``f``/``mf``: (..., K, w) fixed values (zero where missing) and mask.
    ``sl``/``ms``: (..., K, B) block the sliding slices of length ``w`` come from,
    at offsets ``0..n_lags-1``. The leading dims of the two broadcast. Returns n,
    Sf, Sff, Ss, Sss, Sfs, broadcastable to (..., K, n_lags).
    """
    if clean:  # no missing value anywhere: sliding sums by cumulative sums
        sfs = _cross_sums(f, sl, w, n_lags)
        shape = np.broadcast_shapes(f.shape[:-1], sl.shape[:-1]) + (n_lags,)
        n = np.full(shape, float(w))
        sf = f.sum(axis=-1)[..., None]
        sff = (f * f).sum(axis=-1)[..., None]
        zero = np.zeros(sl.shape[:-1] + (1,))
        c1 = np.concatenate([zero, np.cumsum(sl, axis=-1)], axis=-1)
        c2 = np.concatenate([zero, np.cumsum(sl * sl, axis=-1)], axis=-1)
        ss = c1[..., w : w + n_lags] - c1[..., :n_lags]
        sss = c2[..., w : w + n_lags] - c2[..., :n_lags]
        return n, sf, sff, ss, sss, sfs
    # with gaps every sum is a cross-product of a fixed and a sliding slice: the
    # counts n pair the masks, Sf the fixed values with the sliding mask, and so on
    mf, ms = mf.astype(float), ms.astype(float)
    nfft = _fft_length(w, n_lags, sl.shape[-1])
    if nfft is None:  # short windows or few lags: each sum directly, as _cross_sums does
        pairs = ((mf, ms), (f, ms), (f * f, ms), (f, sl), (mf, sl), (mf, sl * sl))
        count, sf, sff, sfs, ss, sss = (_cross_sums(a, b, w, n_lags) for a, b in pairs)
        return count, sf, sff, ss, sss, sfs
    # one transform of each fixed and each sliding slice (one sliding spectrum held
    # at a time), one inverse per sum, of which only the lags are kept (a copy)
    fixed = [np.conj(sp_fft.rfft(a, nfft)) for a in (f, mf, f * f)]

    def sums(sliding, *which):
        spectrum = sp_fft.rfft(sliding, nfft)
        return [sp_fft.irfft(fixed[i] * spectrum, nfft)[..., :n_lags].copy() for i in which]

    count, sf, sff = sums(ms, 1, 0, 2)
    sfs, ss = sums(sl, 0, 1)
    (sss,) = sums(sl * sl, 1)
    # the counts are whole numbers: rounding keeps the test n < 3 exact
    return np.rint(count), sf, sff, ss, sss, sfs


def _pearson_from_sums(n, sf, sff, ss, sss, sfs, tol_f, tol_s):
    with np.errstate(invalid="ignore", divide="ignore"):
        var_f = sff - sf * sf / n
        var_s = sss - ss * ss / n
        cov = sfs - sf * ss / n
        r = cov / np.sqrt(var_f * var_s)
    bad = (n < 3) | (var_f <= n * tol_f) | (var_s <= n * tol_s)
    r = np.clip(r, -1.0, 1.0)
    r[np.broadcast_to(bad, r.shape)] = np.nan
    return r


#: Windows computed at once; bounds the memory of one call to a few windows x lags.
_WINDOW_CHUNK = 256
#: ... and at most this many block samples (rows x windows x (window + lag)) at once.
_CHUNK_ELEMS = 2**21


def _lagged_corr(x, y, w, L, s):
    """Pearson r for every window and lag.

    Parameters
    ----------
    x, y : ndarray, shape (..., N)
        Signals (NaN marks missing samples). Leading dims broadcast: a batch of
        ``y`` rows against one ``x`` computes every row at once (the chance test's
        circular shifts), with the same values as one call per row.
    w, L, s : int
        Window, maximum lag and step in samples (``w >= 2``, ``L >= 0``, ``s >= 1``).

    Returns
    -------
    r : ndarray, shape (..., K, 2 * L + 1)
        Correlations with lags ``-L..L`` along the last axis.
    """
    N = x.shape[-1]
    if y.shape[-1] != N:
        raise ValueError(f"x and y must have the same length, got {N} and {y.shape[-1]} samples.")
    K = _n_windows(N, w, L, s)
    if K < 1:
        raise ValueError(f"{N} samples hold no window of {w} + {L} (window + max lag) samples.")
    tol_x = (_CONSTANT_RTOL * _scale(x)) ** 2
    tol_y = (_CONSTANT_RTOL * _scale(y)) ** 2
    batch = np.broadcast_shapes(x.shape[:-1], y.shape[:-1])
    rows = int(np.prod(batch))
    chunk = max(1, min(_WINDOW_CHUNK, _CHUNK_ELEMS // (rows * (w + L))))
    r = np.empty(batch + (K, 2 * L + 1))
    for k0 in range(0, K, chunk):  # chunks of windows, not single windows
        k1 = min(k0 + chunk, K)
        span = slice(k0 * s, (k1 - 1) * s + w + L)
        r[..., k0:k1, :] = _lagged_corr_chunk(
            x[..., span], y[..., span], w, L, s, k1 - k0, tol_x, tol_y
        )
    return r


def _lagged_corr_chunk(x, y, w, L, s, K, tol_x, tol_y):
    B = w + L
    xc, mx, nx = _centered_blocks(x, K, B, s)
    yc, my, ny = _centered_blocks(y, K, B, s)
    clean = bool(mx.all() and my.all())
    shape = np.broadcast_shapes(xc.shape[:-1], yc.shape[:-1])
    r = np.empty(shape + (2 * L + 1,))
    # lags 0..L: x fixed at the block start, y slides
    sums = _pair_sums(xc[..., :w], mx[..., :w], yc, my, w, L + 1, clean)
    r[..., L:] = _pearson_from_sums(*sums, tol_x, tol_y)
    if L > 0:  # lags -1..-L: y fixed at the block start, x slides from offset 1
        sums = _pair_sums(yc[..., :w], my[..., :w], xc[..., 1:], mx[..., 1:], w, L, clean)
        r[..., :L] = _pearson_from_sums(*sums, tol_y, tol_x)[..., ::-1]
    too_sparse = ((B - nx) > B / 2) | ((B - ny) > B / 2)
    r[np.broadcast_to(too_sparse, shape)] = np.nan
    return r


def _fisher_z(r, *, absolute=True):
    """Fisher z of r, clipped to +-10, optionally absolute."""
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.clip(np.arctanh(r), -_Z_CLIP, _Z_CLIP)
    return np.abs(z) if absolute else z
