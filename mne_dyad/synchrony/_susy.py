"""Surrogate synchrony (SUSY; Tschacher & Meier 2020)."""

import warnings

import numpy as np
import xarray as xr
from mne.utils import _validate_type, verbose
from scipy.fft import irfft, next_fast_len, rfft

from ..utils._checks import _check_1d_pair, _check_positive, _check_rng, _is_int
from ._kernels import _CONSTANT_RTOL
from ._registry import _check_not_empty, _SpanTooShort, _SyncMethod

_SCALARS = {
    "Z": ("mean |Fisher z| of the real pairs over lags", "1"),
    "Z_pseudo": ("mean |Fisher z| of the pseudo pairs over lags", "1"),
    "ES": ("SUSY effect size (Z - Z_pseudo) / SD of the pseudo profile", "1"),
    "Z_lead1": ("mean |Fisher z| over lags where the first role leads", "1"),
    "Z_lead2": ("mean |Fisher z| over lags where the second role leads", "1"),
    "ES_lead1": ("effect size over lags where the first role leads", "1"),
    "ES_lead2": ("effect size over lags where the second role leads", "1"),
    "pct_above": ("percent of lags where the real profile exceeds the pseudo profile", "%"),
    "Z_in_phase": ("mean of the non-negative signed real profile values", "1"),
    "Z_anti_phase": ("mean of the negative signed real profile values", "1"),
    "n_in_phase": ("number of lags with a non-negative signed real profile", "1"),
    "n_anti_phase": ("number of lags with a negative signed real profile", "1"),
    "Z_noabs": ("mean signed Fisher z of the real pairs over lags", "1"),
    "Z_pseudo_noabs": ("mean signed Fisher z of the pseudo pairs over lags", "1"),
    "pct_above_noabs": ("percent of lags where the signed real profile exceeds the pseudo", "%"),
    "ES_noabs": ("effect size of the signed profiles", "1"),
    "n_segments": ("number of SUSY segments", "1"),
}
_PROFILES = {
    "z_real": ("mean |Fisher z| of the real pairs per lag", "1"),
    "z_pseudo": ("mean |Fisher z| of the pseudo pairs per lag", "1"),
    "z_real_noabs": ("mean signed Fisher z of the real pairs per lag", "1"),
    "z_pseudo_noabs": ("mean signed Fisher z of the pseudo pairs per lag", "1"),
    "r_real": ("mean |r| of the real pairs per lag", "1"),
    "r_pseudo": ("mean |r| of the pseudo pairs per lag", "1"),
}


def _cut(x, y, S):
    """Drop incomplete time points, then cut non-overlapping segments from the start."""
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n = x.size // S
    return x[: n * S].reshape(n, S), y[: n * S].reshape(n, S)


#: Pair x frequency elements transformed at once (bounds the memory of SUSY).
_FFT_BLOCK = 2_000_000


def _pair_ccf(a, b, M, i_idx, h_idx, norm):
    """R's ccf(a_i, b_h) at lags -M..M for the given pairs: (n_lags, n_pairs).

    Cross-correlations of the pairs at every lag come from zero-padded FFT
    cross-spectra, computed in blocks of pairs (for a sample of the pairs; every
    pair is :func:`_lagged_products`' work).
    """
    S = a.shape[1]
    nfft = next_fast_len(2 * S - 1)
    fa = rfft(a, nfft, axis=1)
    fb = rfft(b, nfft, axis=1)
    lag_index = np.r_[np.arange(nfft - M, nfft), np.arange(M + 1)]  # k = -M..M
    out = np.empty((2 * M + 1, i_idx.size))
    step = max(1, _FFT_BLOCK // fa.shape[1])
    for p0 in range(0, i_idx.size, step):
        sel = slice(p0, p0 + step)
        cc = irfft(fa[i_idx[sel]] * np.conj(fb[h_idx[sel]]), nfft, axis=-1)
        out[:, sel] = cc[:, lag_index].T
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.clip(out / norm, -1.0, 1.0)


def _lagged_products(a, b, M):
    """``sum_t a_i[t + k] b_h[t]`` of every pair (i, h) at lags k = -M..M: (2M+1, n, n).

    One matrix product per lag, of the overlapping parts of the segments (views,
    no copies): the direct sums, at the rate of the machine's BLAS, which for SUSY's
    short segments is faster than FFT cross-spectra of every pair.
    """
    n, S = a.shape
    out = np.empty((2 * M + 1, n, n))
    for j, k in enumerate(range(-M, M + 1)):
        if k >= 0:
            np.matmul(a[:, k:], b[:, : S - k].T, out=out[j])
        else:
            np.matmul(a[:, : S + k], b[:, -k:].T, out=out[j])
    return out


def _all_pairs_profiles(a, b, saa, sbb, ok_a, ok_b, M):
    """Return the profiles of :func:`_susy_profiles` over every pair, copying no pairs.

    The real pairs are the diagonal of the (n, n) pairs at each lag and the pseudo
    pairs the rest. A pair with a constant segment adds nothing (its r is set to 0,
    as ``nansum`` drops R's NaN), and a profile with no defined pair is NaN.
    """
    n = a.shape[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        inv_a = np.where(ok_a, 1.0 / np.sqrt(saa), 0.0)
        inv_b = np.where(ok_b, 1.0 / np.sqrt(sbb), 0.0)
    r = _lagged_products(a, b, M)
    r *= np.multiply.outer(inv_a, inv_b)
    np.clip(r, -1.0, 1.0, out=r)
    flat = r.reshape(2 * M + 1, n * n)
    r_real = flat[:, :: n + 1].copy()  # the diagonal: segment i with segment i
    flat[:, :: n + 1] = 0.0  # so the sums below are the pseudo pairs'
    real = ok_a & ok_b  # the real pairs that are defined
    out = {"r_pseudo": np.abs(flat).sum(axis=1)}
    with np.errstate(divide="ignore"):
        z = np.arctanh(flat, out=flat)
        z_real = np.arctanh(r_real)
    out["z_pseudo"] = np.abs(z).sum(axis=1)
    out["z_pseudo_noabs"] = z.sum(axis=1)
    out["z_real"] = np.abs(z_real[:, real]).sum(axis=1)
    out["z_real_noabs"] = z_real[:, real].sum(axis=1)
    out["r_real"] = np.abs(r_real[:, real]).sum(axis=1)
    # a group with no pair whose z is finite somewhere is undefined (R: NaN); the
    # pseudo pairs are checked only when their sums say some z is infinite
    n_pseudo_ok = ok_a.sum() * ok_b.sum() - real.sum()
    has = {
        "real": bool(np.isfinite(z_real[:, real]).any()),
        "pseudo": n_pseudo_ok > 0
        and (np.isfinite(out["z_pseudo"]).all() or _any_finite_pseudo(z, ok_a, ok_b)),
    }
    for name, div in (("real", n), ("pseudo", n * (n - 1))):
        div = div if has[name] else np.nan
        for key in (f"z_{name}", f"z_{name}_noabs", f"r_{name}"):
            out[key] = out[key] / div
    return {key: out[key] for key in _PROFILE_ORDER}


def _any_finite_pseudo(z, ok_a, ok_b):
    """Whether any defined pseudo pair's z is finite at some lag."""
    n = ok_a.size
    pairs = np.logical_and.outer(ok_a, ok_b)
    np.fill_diagonal(pairs, False)
    return bool(np.isfinite(z.reshape(-1, n, n)[:, pairs]).any())


#: the order of the profiles :func:`_susy_profiles` returns
_PROFILE_ORDER = ("z_real", "z_real_noabs", "r_real", "z_pseudo", "z_pseudo_noabs", "r_pseudo")


def _susy_profiles(seg_x, seg_y, M, *, n_surrogates=None, rng=None):
    """Real and pseudo lag profiles of SUSY from segmented signals.

    Parameters
    ----------
    seg_x, seg_y : ndarray, shape (n_segments, S)
        Non-overlapping segments of the two signals (no missing values).
    M : int
        Maximum lag in samples.
    n_surrogates : None | int
        Number of random pseudo pairs (segment i of x with segment h != i of y);
        ``None`` uses all ordered pairs.
    rng : numpy.random.Generator | None
        Random generator for the pseudo pairs.

    Returns
    -------
    profiles : dict of str to ndarray, shape (2 * M + 1,)
        ``z_real``, ``z_pseudo``, ``z_real_noabs``, ``z_pseudo_noabs``, ``r_real``
        and ``r_pseudo``, lags ordered ``-M..M`` (negative: x leads).
    """
    n, S = seg_x.shape
    a = seg_x - seg_x.mean(axis=1, keepdims=True)
    b = seg_y - seg_y.mean(axis=1, keepdims=True)
    saa, sbb = (a * a).sum(axis=1), (b * b).sum(axis=1)
    # a constant segment has an undefined ccf: its pairs add nothing (R: NaN acf)
    ok_a = saa > S * (_CONSTANT_RTOL * np.abs(seg_x).max(axis=1)) ** 2
    ok_b = sbb > S * (_CONSTANT_RTOL * np.abs(seg_y).max(axis=1)) ** 2
    if n_surrogates is None:
        return _all_pairs_profiles(a, b, saa, sbb, ok_a, ok_b, M)
    real_i = np.arange(n)
    flat = rng.choice(n * (n - 1), size=n_surrogates, replace=False)
    i_idx, h_idx = np.divmod(flat, n - 1)
    h_idx = h_idx + (h_idx >= i_idx)  # skip the diagonal
    i_idx, h_idx = np.concatenate([real_i, i_idx]), np.concatenate([real_i, h_idx])
    pseudo = np.arange(i_idx.size) >= n
    n_pseudo = n_surrogates
    norm = np.sqrt(saa[i_idx] * sbb[h_idx])
    r = _pair_ccf(a, b, M, i_idx, h_idx, norm)
    r[:, ~(ok_a[i_idx] & ok_b[h_idx])] = np.nan
    with np.errstate(divide="ignore"):
        z = np.arctanh(r)
    real = (i_idx == h_idx) & ~pseudo
    out = {}
    for name, values, mask, div in (("real", z, real, n), ("pseudo", z, pseudo, n_pseudo)):
        sel = values[:, mask]
        # a pair with an undefined ccf adds nothing but keeps the divisor (as in R);
        # when no pair is defined at all, the profile is undefined (NaN)
        div = div if np.isfinite(sel).any() else np.nan
        out[f"z_{name}"] = np.nansum(np.abs(sel), axis=1) / div
        out[f"z_{name}_noabs"] = np.nansum(sel, axis=1) / div
        out[f"r_{name}"] = np.nansum(np.abs(r[:, mask]), axis=1) / div
    return out


def _susy_summaries(profiles, M):
    """Compute the SUSY package's ``as.data.frame`` summaries of the lag profiles."""
    zr, zp = profiles["z_real"], profiles["z_pseudo"]
    zrn, zpn = profiles["z_real_noabs"], profiles["z_pseudo_noabs"]
    lead1, lead2 = slice(0, M), slice(M + 1, 2 * M + 1)

    def es(real, pseudo):
        if pseudo.size < 2:
            return np.nan
        with np.errstate(invalid="ignore", divide="ignore"):
            return float((real.mean() - pseudo.mean()) / pseudo.std(ddof=1))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return {
            "Z": float(zr.mean()),
            "Z_pseudo": float(zp.mean()),
            "ES": es(zr, zp),
            "Z_lead1": float(zr[lead1].mean()) if M else np.nan,
            "Z_lead2": float(zr[lead2].mean()) if M else np.nan,
            "ES_lead1": es(zr[lead1], zp[lead1]),
            "ES_lead2": es(zr[lead2], zp[lead2]),
            "pct_above": 100.0 * float(np.mean(zr > zp)),
            "Z_in_phase": float(zrn[zrn >= 0].mean()),
            "Z_anti_phase": float(zrn[zrn < 0].mean()),
            "n_in_phase": float((zrn >= 0).sum()),
            "n_anti_phase": float((zrn < 0).sum()),
            "Z_noabs": float(zrn.mean()),
            "Z_pseudo_noabs": float(zpn.mean()),
            "pct_above_noabs": 100.0 * float(np.mean(zrn > zpn)),
            "ES_noabs": es(zrn, zpn),
        }


def _check_n_surrogates(n_surrogates, n_seg):
    if n_surrogates is None:
        return
    if not _is_int(n_surrogates) or n_surrogates < 1:
        raise ValueError(f"n_surrogates must be a positive integer or None, got {n_surrogates!r}.")
    if n_surrogates > n_seg * (n_seg - 1):
        raise ValueError(
            f"n_surrogates={n_surrogates} exceeds the {n_seg * (n_seg - 1)} pseudo pairs of "
            f"{n_seg} segments; use n_surrogates=None for all pairs."
        )


@verbose
def susy(x, y, sfreq, *, segment, max_lag, n_surrogates=None, seed=None, verbose=None):
    """Surrogate synchrony (SUSY) of two signals.

    Time points where x or y is missing are dropped; the rest is cut into
    non-overlapping segments of ``segment`` seconds from the start. The real
    profile averages ``|atanh r|`` of R's ``ccf(x_i, y_i)`` over segments, the
    pseudo profile over pairs of different segments ``(x_i, y_h)``; the summaries
    are those of the SUSY R package's ``as.data.frame`` (Tschacher & Meier 2020),
    to which the values are equal when all pairs are used.

    Parameters
    ----------
    x, y : array-like, shape (n_times,)
        The two signals; NaN marks missing samples.
    sfreq : float
        Sampling rate in Hz.
    segment : float
        Segment length in seconds (at least ``2 * max_lag``).
    max_lag : float
        Maximum lag in seconds; negative lags: x leads (``lead1``).
    n_surrogates : None | int
        ``None`` (default): all ordered pairs of different segments. An integer:
        that many random pairs, drawn without replacement.
    seed : None | int | numpy.random.Generator
        Seed for the random pairs.
    verbose : bool | str | int | None
        Control verbosity of the logging output.

    Returns
    -------
    result : xarray.Dataset
        Profiles along ``lag`` (``z_real``, ``z_pseudo``, their ``_noabs``
        variants, ``r_real``, ``r_pseudo``) and the scalar summaries (``Z``,
        ``Z_pseudo``, ``ES``, ``Z_lead1``, ``Z_lead2``, ``ES_lead1``,
        ``ES_lead2``, ``pct_above``, ``Z_in_phase``, ``Z_anti_phase``,
        ``n_in_phase``, ``n_anti_phase``, ``Z_noabs``, ``Z_pseudo_noabs``,
        ``pct_above_noabs``, ``ES_noabs``, ``n_segments``).

    Examples
    --------
    >>> import numpy as np
    >>> import mne_dyad as md
    >>> rng = np.random.default_rng(0)
    >>> x = np.convolve(rng.standard_normal(4800), np.ones(8) / 8, "same")
    >>> res = md.synchrony.susy(x, np.roll(x, 4), 8.0, segment=30, max_lag=2)
    >>> bool(res.ES > 5), int(res.n_segments)
    (True, 20)
    """
    x, y = _check_1d_pair(x, y)
    method = _SUSYMethod()
    finite = np.isfinite(x) & np.isfinite(y)
    _check_not_empty(np.where(finite, 0.0, np.nan), x, y)
    samples = method.samples(method.check_params({"segment": segment, "max_lag": max_lag}), sfreq)
    seg_x, seg_y = _cut(x, y, samples["S"])
    n_seg = seg_x.shape[0]
    if n_seg < 2:
        raise ValueError(
            f"After dropping missing samples the signals hold {n_seg} segment(s) of "
            f"{segment} s; SUSY needs at least 2. Use a shorter segment or longer signals."
        )
    _check_n_surrogates(n_surrogates, n_seg)
    rng = _check_rng(seed)
    M = samples["M"]
    profiles = _susy_profiles(seg_x, seg_y, M, n_surrogates=n_surrogates, rng=rng)
    _check_not_empty(profiles["z_real"], x[finite], y[finite])
    return _as_dataset(profiles, _susy_summaries(profiles, M), n_seg, M, sfreq)


def _as_dataset(profiles, summaries, n_seg, M, sfreq):
    data = {
        k: ("lag", v, {"long_name": _PROFILES[k][0], "units": "1"}) for k, v in profiles.items()
    }
    summaries = {**summaries, "n_segments": float(n_seg)}
    for k, v in summaries.items():
        data[k] = ((), v, {"long_name": _SCALARS[k][0], "units": _SCALARS[k][1]})
    return xr.Dataset(data, coords={"lag": ("lag", np.arange(-M, M + 1) / sfreq, {"units": "s"})})


class _SUSYMethod(_SyncMethod):
    """Surrogate synchrony (docs/methods.rst, section methods-susy)."""

    name = "susy"
    defaults = {"segment": 30.0, "max_lag": 10.0, "n_surrogates": None, "seed": None}
    variables = {**_SCALARS, **_PROFILES}
    lag_variables = tuple(_PROFILES)
    role_aliases = {"Z_lead1": "Z_{x}_leads", "Z_lead2": "Z_{y}_leads"}
    main_summary = "Z"

    def _validate(self, params):
        _check_positive(params["segment"], "segment")
        _check_positive(params["max_lag"], "max_lag", allow_zero=True)
        if params["segment"] < 2 * params["max_lag"]:
            raise ValueError(
                f"segment={params['segment']} s must be at least 2 * max_lag "
                f"({2 * params['max_lag']} s)."
            )
        _validate_type(params["seed"], (None, "int-like", np.random.Generator), "seed")

    def samples(self, params, sfreq):
        S = int(round(params["segment"] * sfreq))
        M = int(round(params["max_lag"] * sfreq))
        if S < 3:
            raise ValueError(f"segment={params['segment']} s is under 3 samples at {sfreq} Hz.")
        return {"S": S, "M": M, **params}

    def lags(self, samples, sfreq):
        return np.arange(-samples["M"], samples["M"] + 1) / sfreq

    def min_samples(self, samples):
        return samples["S"]

    def describe_min(self, params):
        return f"two SUSY segments of {params['segment']} s in all"

    def compute(self, x, y, sfreq, samples):
        seg = _cut(x, y, samples["S"])
        if seg[0].shape[0] == 0:
            raise _SpanTooShort
        return seg

    def pool(self, partials, sfreq, samples):
        if not partials:
            return None
        seg_x = np.concatenate([p[0] for p in partials])
        seg_y = np.concatenate([p[1] for p in partials])
        n_seg = seg_x.shape[0]
        if n_seg < 2:
            return None
        n_sur = samples["n_surrogates"]
        if n_sur is not None:
            n_sur = min(n_sur, n_seg * (n_seg - 1))
        _check_n_surrogates(n_sur, n_seg)
        rng = _check_rng(samples["seed"])
        profiles = _susy_profiles(seg_x, seg_y, samples["M"], n_surrogates=n_sur, rng=rng)
        return {**profiles, **_susy_summaries(profiles, samples["M"]), "n_segments": float(n_seg)}
