"""Slow, literal reference implementations used by the tests and benchmarks.

They are written straight from METHODS.md, one window and one lag at a time,
so that the vectorised kernels can be checked (and timed) against them.
"""

import math

import numpy as np

from ._kernels import CONSTANT_RTOL, Z_CLIP


def wclc_loop(x, y, w, L, s, *, fisher_z=True, absolute=True):
    """Windowed cross-lagged correlation by a plain per-window, per-lag loop.

    Parameters and conventions as :func:`mne_dyad.synchrony._kernels.lagged_corr`,
    with the Fisher z / absolute-value transform applied. Returns (K, 2L+1).
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    N = x.size
    K = math.ceil((N - w - L + 1) / s)
    scale_x = np.nanmax(np.abs(x))
    scale_y = np.nanmax(np.abs(y))
    out = np.full((K, 2 * L + 1), np.nan)
    for k in range(K):
        start = k * s
        bx = x[start : start + w + L]
        by = y[start : start + w + L]
        if np.isnan(bx).sum() > (w + L) / 2 or np.isnan(by).sum() > (w + L) / 2:
            continue
        for j, lag in enumerate(range(-L, L + 1)):
            if lag >= 0:
                a = x[start : start + w]
                b = y[start + lag : start + lag + w]
            else:
                a = x[start - lag : start - lag + w]
                b = y[start : start + w]
            ok = ~np.isnan(a) & ~np.isnan(b)
            a, b = a[ok], b[ok]
            if a.size < 3:
                continue
            da = a - a.mean()
            db = b - b.mean()
            sa = np.sqrt(np.mean(da * da))
            sb = np.sqrt(np.mean(db * db))
            if sa <= CONSTANT_RTOL * scale_x or sb <= CONSTANT_RTOL * scale_y:
                continue
            r = np.sum(da * db) / np.sqrt(np.sum(da * da) * np.sum(db * db))
            r = min(max(r, -1.0), 1.0)
            if fisher_z:
                r = Z_CLIP if r == 1.0 else -Z_CLIP if r == -1.0 else math.atanh(r)
                r = min(max(r, -Z_CLIP), Z_CLIP)
            out[k, j] = abs(r) if absolute else r
    return out
