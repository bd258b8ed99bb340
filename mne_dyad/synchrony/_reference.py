"""Slow, literal reference implementations used by the tests and benchmarks.

They are written straight from docs/methods.rst, one window and one lag at a time,
so that the vectorised kernels can be checked (and timed) against them.
"""

import math

import numpy as np

from ._kernels import _CONSTANT_RTOL, _Z_CLIP


def _wclc_loop(x, y, w, L, s, *, fisher_z=True, absolute=True):
    """Windowed cross-lagged correlation by a plain per-window, per-lag loop.

    Parameters and conventions as :func:`mne_dyad.synchrony._kernels._lagged_corr`,
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
            if sa <= _CONSTANT_RTOL * scale_x or sb <= _CONSTANT_RTOL * scale_y:
                continue
            r = np.sum(da * db) / np.sqrt(np.sum(da * da) * np.sum(db * db))
            r = min(max(r, -1.0), 1.0)
            if fisher_z:
                r = _Z_CLIP if r == 1.0 else -_Z_CLIP if r == -1.0 else math.atanh(r)
                r = min(max(r, -_Z_CLIP), _Z_CLIP)
            out[k, j] = abs(r) if absolute else r
    return out


def _susy_loop(x, y, S, M):
    """SUSY with all pairs, pair by pair and lag by lag, as the R package loops.

    Returns the profiles ``z_real``, ``z_pseudo``, ``z_real_noabs``,
    ``z_pseudo_noabs`` (lags ``-M..M``) and the number of segments.
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    ok = ~np.isnan(x) & ~np.isnan(y)
    x, y = x[ok], y[ok]
    n = x.size // S
    segs_x = [x[i * S : (i + 1) * S] for i in range(n)]
    segs_y = [y[i * S : (i + 1) * S] for i in range(n)]
    lags = range(-M, M + 1)
    zr = np.zeros(2 * M + 1)
    zrn = np.zeros(2 * M + 1)
    zp = np.zeros(2 * M + 1)
    zpn = np.zeros(2 * M + 1)
    for i in range(n):
        for h in range(n):
            a = segs_x[i] - segs_x[i].mean()
            b = segs_y[h] - segs_y[h].mean()
            c0 = math.sqrt(np.sum(a * a) / S * np.sum(b * b) / S)
            if c0 <= 0:
                continue  # R: NaN ccf, the pair adds nothing
            for j, k in enumerate(lags):
                total = 0.0
                for t in range(S):  # ccf(a, b) at lag k: a[t + k] with b[t]
                    if 0 <= t + k < S:
                        total += a[t + k] * b[t]
                r = min(max(total / S / c0, -1.0), 1.0)
                z = 0.5 * math.log((1 + r) / (1 - r)) if abs(r) < 1 else math.copysign(np.inf, r)
                if i == h:
                    zr[j] += abs(z)
                    zrn[j] += z
                else:
                    zp[j] += abs(z)
                    zpn[j] += z
    return {
        "z_real": zr / n,
        "z_pseudo": zp / (n * (n - 1)),
        "z_real_noabs": zrn / n,
        "z_pseudo_noabs": zpn / (n * (n - 1)),
        "n_segments": n,
    }


def _susy_pairs_loop(x, y, S, M):
    """SUSY as the R package computes it: a loop over segment pairs, one ccf each.

    Each pair's cross-correlation over all lags is one vectorised call (as R's
    ``ccf``); returns the same profiles as :func:`_susy_loop`.
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    ok = ~np.isnan(x) & ~np.isnan(y)
    x, y = x[ok], y[ok]
    n = x.size // S
    zr = np.zeros(2 * M + 1)
    zp = np.zeros(2 * M + 1)
    zrn = np.zeros(2 * M + 1)
    zpn = np.zeros(2 * M + 1)
    for i in range(n):
        a = x[i * S : (i + 1) * S]
        a = a - a.mean()
        for h in range(n):
            b = y[h * S : (h + 1) * S]
            b = b - b.mean()
            norm = math.sqrt(np.dot(a, a) * np.dot(b, b))
            if norm <= 0:
                continue
            full = np.correlate(a, b, mode="full")  # lag k = index - (S - 1): a[t+k] b[t]
            r = np.clip(full[S - 1 - M : S + M] / norm, -1.0, 1.0)
            z = np.arctanh(r)
            if i == h:
                zr += np.abs(z)
                zrn += z
            else:
                zp += np.abs(z)
                zpn += z
    return {
        "z_real": zr / n,
        "z_pseudo": zp / (n * (n - 1)),
        "z_real_noabs": zrn / n,
        "z_pseudo_noabs": zpn / (n * (n - 1)),
        "n_segments": n,
    }
