import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mne_dyad.synchrony import wclc
from mne_dyad.synchrony._kernels import _lagged_corr, _n_windows
from mne_dyad.synchrony._reference import _wclc_loop
from mne_dyad.synchrony._wclc import _window_summaries

S37 = math.sqrt(3 / 7)


def test_hand_computed_case():
    """Six samples, window 3, lag 1, step 2: every r worked out by hand.

    Window 0 (samples 0-3): lag 0 pairs [1,2,3] with [1,3,2] -> r = 1/2; lag +1
    pairs [1,2,3] with [3,2,5] -> r = 2/sqrt(2 * 14/3) = sqrt(3/7); lag -1 pairs
    [2,3,4] with [1,3,2] -> 1/2. Window 1 (samples 2-5): lag 0 [3,4,5] with
    [2,5,4] -> sqrt(3/7); lag +1 [3,4,5] with [5,4,6] -> 1/2; lag -1 [4,5,6] with
    [2,5,4] -> sqrt(3/7).
    """
    x = [1, 2, 3, 4, 5, 6]
    y = [1, 3, 2, 5, 4, 6]
    r = wclc(x, y, 1.0, lag=1, window=3, step=2, fisher_z=False, absolute=False)
    expected = np.array([[0.5, 0.5, S37], [S37, S37, 0.5]])
    np.testing.assert_allclose(r.values, expected, rtol=0, atol=1e-14)
    np.testing.assert_array_equal(r.lag.values, [-1.0, 0.0, 1.0])
    np.testing.assert_array_equal(r.window.values, [0.0, 2.0])
    z = wclc(x, y, 1.0, lag=1, window=3, step=2)
    np.testing.assert_allclose(z.values, np.arctanh(expected), atol=1e-14)
    # summaries of window 0: lag0 = atanh(.5), best lag = +1 s (the maximum)
    summ = _window_summaries(z.values, z.lag.values)
    np.testing.assert_allclose(summ["lag0"], [np.arctanh(0.5), np.arctanh(S37)])
    np.testing.assert_allclose(summ["x_leads"], [np.arctanh(S37), np.arctanh(0.5)])
    np.testing.assert_allclose(summ["y_leads"], [np.arctanh(0.5), np.arctanh(S37)])
    np.testing.assert_array_equal(summ["best_lag"], [1.0, -1.0])  # first of ties
    np.testing.assert_allclose(summ["all_lags"], np.arctanh(expected).mean(1))


def test_window_count_formula():
    # K = ceil((N - w - L + 1) / s)
    assert _n_windows(100, 20, 5, 10) == math.ceil((100 - 20 - 5 + 1) / 10) == 8
    assert _n_windows(25, 20, 5, 10) == 1
    assert _n_windows(24, 20, 5, 10) == 0
    r = wclc(np.arange(100.0) ** 1.5, np.sin(np.arange(100.0)), 1.0, lag=5, window=20, step=10)
    assert r.sizes["window"] == 8


def test_lag_sign_delayed_copy_peaks_positive():
    """y repeating x 2 s later (y follows x) peaks at lag +2 s."""
    rng = np.random.default_rng(0)
    sfreq = 8.0
    x = np.convolve(rng.standard_normal(4000), np.ones(4) / 4, mode="same")
    y = np.roll(x, 16)  # 2 s delay
    z = wclc(x, y, sfreq, lag=5, window=30, step=15)
    best = _window_summaries(z.values, z.lag.values)["best_lag"]
    assert np.all(best == 2.0)
    assert float(z.sel(lag=2.0).min()) == 10.0  # identical -> r = 1 -> clipped z
    assert float(z.sel(lag=-2.0).mean()) < 1.0


def test_swap_mirrors_lag_axis():
    rng = np.random.default_rng(1)
    x = np.cumsum(rng.standard_normal(600))
    y = np.roll(x, 5) + rng.standard_normal(600)
    a = wclc(x, y, 4.0, lag=3, window=20, step=7, absolute=False)
    b = wclc(y, x, 4.0, lag=3, window=20, step=7, absolute=False)
    # lag l of (x, y) pairs x[t+|l|] with y[t]; lag -l of (y, x) is the same slice
    np.testing.assert_allclose(a.values, b.values[:, ::-1], atol=1e-12)


def test_fisher_z_clipped_at_10_and_absolute():
    x = np.sin(np.linspace(0, 20, 200))
    z = wclc(x, x, 1.0, lag=0, window=50, step=50)
    np.testing.assert_array_equal(z.values, 10.0)
    zn = wclc(x, -x, 1.0, lag=0, window=50, step=50, absolute=False)
    np.testing.assert_array_equal(zn.values, -10.0)
    za = wclc(x, -x, 1.0, lag=0, window=50, step=50)
    np.testing.assert_array_equal(za.values, 10.0)


def test_missing_data_rule():
    rng = np.random.default_rng(2)
    x = rng.standard_normal(60)
    y = rng.standard_normal(60)
    w, L, s = 10, 2, 12  # blocks of 12 samples: [0,12), [12,24), ...
    x_gap = x.copy()
    x_gap[0:7] = np.nan  # 7 of 12 missing: more than half -> window 0 NaN
    x_gap[12:15] = np.nan  # 3 of 12 missing: window 1 kept, complete pairs only
    r = wclc(x_gap, y, 1.0, lag=L, window=w, step=s, fisher_z=False, absolute=False)
    assert np.isnan(r.values[0]).all()
    # lag 0 of window 1: pairs x[12:22] with y[12:22], dropping x's 3 missing samples
    a, b = x[15:22], y[15:22]
    assert r.values[1, L] == pytest.approx(np.corrcoef(a, b)[0, 1], abs=1e-13)
    # lag +2: x[12:22] with y[14:24], complete pairs are x[15:22] / y[17:24]
    assert r.values[1, L + 2] == pytest.approx(np.corrcoef(x[15:22], y[17:24])[0, 1], abs=1e-13)
    # windows 2.. untouched
    full = wclc(x, y, 1.0, lag=L, window=w, step=s, fisher_z=False, absolute=False)
    np.testing.assert_allclose(r.values[2:], full.values[2:], atol=1e-13)


def test_fewer_than_three_pairs_and_constant_slices_are_nan():
    x = np.array([1.0, np.nan, np.nan, np.nan, 2.0, 3.0, 4.0, 5.0])
    y = np.array([2.0, 1.0, 5.0, np.nan, 3.0, 1.0, 2.0, 0.0])
    r = _lagged_corr(x, y, 4, 0, 4)
    assert np.isnan(r[0, 0])  # only pair 0 complete
    flat = np.r_[np.full(20, 3e-6), np.linspace(1e-6, 2e-6, 20)]
    r = _lagged_corr(flat, np.sin(np.arange(40.0)), 10, 0, 10)
    assert np.isnan(r[:2]).all() and np.isfinite(r[2:]).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vectorised_equals_loop_reference(seed):
    rng = np.random.default_rng(seed)
    n = 1500
    x = np.cumsum(rng.standard_normal(n)) * 1e-7 + 5e-6  # siemens-like scale
    y = np.roll(x, 7) + rng.standard_normal(n) * 2e-7
    if seed:
        for arr in (x, y):
            for start in rng.integers(0, n - 40, 6):
                arr[start : start + rng.integers(1, 40)] = np.nan
    for w, L, s in ((80, 20, 40), (33, 7, 5), (10, 0, 3)):
        fast = wclc(x, y, 4.0, lag=L / 4, window=w / 4, step=s / 4)
        slow = _wclc_loop(x, y, w, L, s)
        np.testing.assert_array_equal(np.isnan(fast.values), np.isnan(slow))
        np.testing.assert_allclose(fast.values, slow, rtol=0, atol=1e-10)


@pytest.mark.parametrize("ratio", [0.0, np.inf])
def test_cross_products_by_fft_and_directly_equal_the_loop(ratio, monkeypatch):
    """Both ways of taking the cross-products agree with the loop, with and without gaps.

    ``_FFT_RATIO`` 0 takes every cross-product by FFT, infinity none; the default
    takes long windows with many lags by FFT (the default window and lag at 8 Hz).
    """
    from mne_dyad.synchrony import _kernels

    assert _kernels._fft_length(240, 81, 320) == 320  # 30 s window, 10 s lag, 8 Hz
    assert _kernels._fft_length(10, 1, 10) is None
    monkeypatch.setattr(_kernels, "_FFT_RATIO", ratio)
    rng = np.random.default_rng(11)
    n = 1200
    x = np.cumsum(rng.standard_normal(n)) * 1e-7 + 5e-6
    y = np.roll(x, 9) + rng.standard_normal(n) * 2e-7
    gappy = y.copy()
    gappy[300:330] = np.nan
    for w, L, s in ((120, 60, 60), (33, 7, 5), (10, 0, 3)):
        for other in (y, gappy):
            fast = _lagged_corr(x, other, w, L, s)
            slow = _wclc_loop(x, other, w, L, s, fisher_z=False, absolute=False)
            np.testing.assert_array_equal(np.isnan(fast), np.isnan(slow))
            np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-10)


def test_pair_sums_with_gaps_by_fft_equal_the_sums_of_pairs(monkeypatch):
    """With gaps every sliding sum is a cross-product; by FFT each equals its sum over
    the complete pairs, and the pair counts are whole numbers (the n < 3 rule), with
    either side holding the batch of rows (the two lag directions of _lagged_corr)."""
    from mne_dyad.synchrony import _kernels

    monkeypatch.setattr(_kernels, "_FFT_RATIO", 0.0)
    rng = np.random.default_rng(3)
    K, w, n_lags = 4, 50, 21
    B = w + n_lags - 1
    for rows_fixed in (False, True):
        fixed = rng.standard_normal((2, K, w) if rows_fixed else (K, w))
        block = rng.standard_normal((K, B) if rows_fixed else (2, K, B))
        mf, ms = rng.random(fixed.shape) > 0.3, rng.random(block.shape) > 0.3
        ms[..., 1, :] = False  # a window whose every pair is missing: counts 0
        f, sl = np.where(mf, fixed, 0.0), np.where(ms, block, 0.0)
        got = _kernels._pair_sums(f, mf, sl, ms, w, n_lags, False)
        # the direct sums over the complete pairs of every row, window and lag
        fb, mfb = np.broadcast_to(fixed, (2, K, w)), np.broadcast_to(mf, (2, K, w))
        sb, msb = np.broadcast_to(block, (2, K, B)), np.broadcast_to(ms, (2, K, B))
        want = np.zeros((6, 2, K, n_lags))
        for r in range(2):
            for k in range(K):
                for lag in range(n_lags):
                    pair = mfb[r, k] & msb[r, k, lag : lag + w]
                    a, b = fb[r, k][pair], sb[r, k, lag : lag + w][pair]
                    want[:, r, k, lag] = [
                        pair.sum(),
                        a.sum(),
                        (a * a).sum(),
                        b.sum(),
                        (b * b).sum(),
                        (a * b).sum(),
                    ]
        for value, expected in zip(got, want):
            assert value.shape == expected.shape
            np.testing.assert_allclose(value, expected, rtol=0, atol=1e-12 * abs(expected).max())
        np.testing.assert_array_equal(got[0], want[0])  # the counts exactly
        assert got[0][:, 1].max() == 0
    # the FFT leaves the counts off whole numbers: the rounding is what makes them exact
    raw = _kernels._cross_sums(mf.astype(float), ms.astype(float), w, n_lags)
    assert not np.array_equal(raw, np.round(raw))


def test_a_batch_of_rows_equals_one_call_per_row():
    """_lagged_corr(x, Y) with Y (rows, N): each row as its own call, NaN gaps and scale too."""
    rng = np.random.default_rng(4)
    n, w, L, s = 700, 40, 9, 13
    x = np.cumsum(rng.standard_normal(n)) * 1e-7 + 5e-6
    ys = np.stack([np.roll(x, k) + rng.standard_normal(n) * 2e-7 for k in (0, 3, 50, 301)])
    ys[1, 100:160] = np.nan  # a gap: one row masked, the others clean
    ys[2] *= 1e6  # another scale: the constant-slice tolerance is per row
    ys[3, 200:260] = 7e-6  # a constant stretch: NaN windows in this row only
    x[600:610] = np.nan
    batch = _lagged_corr(x, ys, w, L, s)
    assert batch.shape == (4, _n_windows(n, w, L, s), 2 * L + 1)
    for row, y in zip(batch, ys):
        one = _lagged_corr(x, y, w, L, s)
        np.testing.assert_array_equal(np.isnan(row), np.isnan(one))
        np.testing.assert_allclose(row, one, rtol=0, atol=1e-12)
    assert np.isnan(batch[3]).all(axis=1).any() and not np.isnan(batch[2]).any()
    # the window chunks of a large batch join seamlessly (a chunk without gaps takes
    # the cumulative-sum path, hence not bit for bit)
    from mne_dyad.synchrony import _kernels

    small = _kernels._CHUNK_ELEMS
    try:
        _kernels._CHUNK_ELEMS = 4 * (w + L) * 3  # 3 windows per chunk
        chunked = _lagged_corr(x, ys, w, L, s)
        np.testing.assert_array_equal(np.isnan(chunked), np.isnan(batch))
        np.testing.assert_allclose(chunked, batch, rtol=0, atol=1e-9)
    finally:
        _kernels._CHUNK_ELEMS = small
    with pytest.raises(ValueError, match="same length"):
        _lagged_corr(x, ys[:, :-1], w, L, s)


def test_noninteger_sfreq_exact_lag_coordinates():
    sfreq = 59.94
    x = np.sin(np.arange(3000) / 30.0)
    z = wclc(x, np.roll(x, 3), sfreq, lag=0.5, window=5.0, step=2.5)
    L = round(0.5 * sfreq)
    np.testing.assert_array_equal(z.lag.values, np.arange(-L, L + 1) / sfreq)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(lag=-1, window=10, step=5), "lag must be"),
        (dict(lag=1, window=0, step=5), "window must be"),
        (dict(lag=1, window=10, step=0), "step must be"),
        (dict(lag=1, window=0.2, step=1), "at least 3 sample"),
        (dict(lag=50, window=60, step=5), "fewer than one window plus the maximum lag"),
    ],
)
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        wclc(np.arange(100.0), np.arange(100.0), 1.0, **kwargs)


def test_bad_arrays():
    with pytest.raises(ValueError, match="same length"):
        wclc(np.ones(100), np.ones(99), 1.0, lag=1, window=10, step=5)
    with pytest.raises(ValueError, match="1-D"):
        wclc(np.ones((2, 50)), np.ones((2, 50)), 1.0, lag=1, window=10, step=5)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    scale=st.floats(1e-7, 1e3),
    shift=st.floats(-1e-3, 1e-3),
)
def test_affine_invariance_and_range(seed, scale, shift):
    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.standard_normal(300))
    y = x + rng.standard_normal(300) * 3
    base = wclc(x, y, 2.0, lag=2, window=20, step=10)
    moved = wclc(x * scale + shift, y, 2.0, lag=2, window=20, step=10)
    np.testing.assert_allclose(moved.values, base.values, atol=1e-7)
    assert np.all((base.values >= 0) & (base.values <= 10))


def test_independent_white_noise_closed_form():
    """For independent white noise z ~ N(0, 1/(w - 3)): E|z| = sqrt(2 / pi) / sqrt(w - 3)."""
    rng = np.random.default_rng(11)
    x, y = rng.standard_normal(20000), rng.standard_normal(20000)
    z = wclc(x, y, 1.0, lag=5, window=100, step=100, absolute=False)
    expected = math.sqrt(2 / math.pi) / math.sqrt(100 - 3)
    assert float(np.abs(z).mean()) == pytest.approx(expected, rel=0.05)
    assert abs(float(z.mean())) < 0.01  # centred on zero
    assert float(z.std()) == pytest.approx(1 / math.sqrt(97), rel=0.05)


def test_peak_picking_identical_and_noise():
    rng = np.random.default_rng(12)
    x = np.convolve(rng.standard_normal(4000), np.ones(6) / 6, mode="same")
    same = md_peaks(x, x)
    np.testing.assert_array_equal(same.peak_lag, 0.0)
    np.testing.assert_allclose(same.peak_r, 1.0)
    noise = md_peaks(x, np.convolve(rng.standard_normal(4000), np.ones(6) / 6, mode="same"))
    assert float(np.abs(noise.peak_r).mean()) < 0.3


def md_peaks(x, y):
    from mne_dyad.synchrony import peak_picking

    return peak_picking(x, y, 4.0, lag=3.0, window=30.0, step=15.0)
