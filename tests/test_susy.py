import numpy as np
import pytest

import mne_dyad as md
from mne_dyad.synchrony._reference import _susy_loop
from mne_dyad.synchrony._susy import _susy_profiles, _susy_summaries


def _smooth_noise(rng, n, width=8):
    return np.convolve(rng.standard_normal(n), np.ones(width) / width, mode="same")


@pytest.mark.parametrize("seed", [0, 1])
def test_equals_loop_reference(seed):
    rng = np.random.default_rng(seed)
    x = _smooth_noise(rng, 260, 4)
    y = 0.5 * np.roll(x, 2) + _smooth_noise(rng, 260, 4)
    if seed:
        x[[3, 50, 51, 190]] = np.nan
        y[[10, 120]] = np.nan
    res = md.synchrony.susy(x, y, 2.0, segment=20, max_lag=3)  # S=40, M=6
    ref = _susy_loop(x, y, 40, 6)
    assert int(res.n_segments) == ref["n_segments"] == (6 if seed else 6)
    for key in ("z_real", "z_pseudo", "z_real_noabs", "z_pseudo_noabs"):
        np.testing.assert_allclose(res[key].values, ref[key], rtol=0, atol=1e-12)
    # the summaries follow the SUSY package's as.data.frame formulas
    zr, zp = ref["z_real"], ref["z_pseudo"]
    assert float(res.ES) == pytest.approx((zr.mean() - zp.mean()) / zp.std(ddof=1), abs=1e-10)
    assert float(res.Z_lead1) == pytest.approx(zr[:6].mean(), abs=1e-12)
    assert float(res.Z_lead2) == pytest.approx(zr[7:].mean(), abs=1e-12)
    assert float(res.ES_lead2) == pytest.approx(
        (zr[7:].mean() - zp[7:].mean()) / zp[7:].std(ddof=1), abs=1e-10
    )
    assert float(res.pct_above) == pytest.approx(100 * np.mean(zr > zp))
    zrn = ref["z_real_noabs"]
    assert float(res.Z_in_phase) == pytest.approx(zrn[zrn >= 0].mean(), abs=1e-12)
    assert float(res.n_in_phase) + float(res.n_anti_phase) == 13


def test_delayed_copy_x_leads():
    """y repeats x 0.5 s later: the real profile peaks at lag -0.5 s (x leads, lead1)."""
    rng = np.random.default_rng(3)
    x = _smooth_noise(rng, 8 * 600)
    res = md.synchrony.susy(x, np.roll(x, 4), 8.0, segment=30, max_lag=2)
    assert float(res.z_real.idxmax("lag")) == -0.5
    assert float(res.Z_lead1) > float(res.Z_lead2)
    assert float(res.ES) > 5
    near = res.sel(lag=slice(-1.0, 0.0))  # around the true lead the real pairs dominate
    assert (near.z_real > 3 * near.z_pseudo).all()


def test_independent_noise_is_near_chance():
    rng = np.random.default_rng(4)
    res = md.synchrony.susy(
        _smooth_noise(rng, 8 * 900), _smooth_noise(rng, 8 * 900), 8.0, segment=30, max_lag=3
    )
    # SUSY's ES divides by the SD over lags of the averaged pseudo profile, which is
    # small: chance values of a few units are expected; Z itself is at chance
    assert abs(float(res.ES)) < 5
    assert float(res.Z) == pytest.approx(float(res.Z_pseudo), rel=0.25)
    assert 10 < float(res.pct_above) < 90


def test_anti_phase_signals():
    rng = np.random.default_rng(5)
    x = _smooth_noise(rng, 8 * 300)
    res = md.synchrony.susy(x, -x, 8.0, segment=30, max_lag=1)
    same = md.synchrony.susy(x, x + 1e-3 * rng.standard_normal(x.size), 8.0, segment=30, max_lag=1)
    lag0 = res.z_real_noabs.sel(lag=0.0)
    assert float(lag0) < -3  # strongly negative at lag 0
    assert float(res.Z_anti_phase) < 0 and float(res.n_anti_phase) >= 1
    assert float(same.z_real_noabs.sel(lag=0.0)) > 3


def test_random_pairs_seeded_and_all_pairs_equal():
    rng = np.random.default_rng(6)
    x = _smooth_noise(rng, 8 * 300)
    y = np.roll(x, 3) + _smooth_noise(rng, 8 * 300)
    full = md.synchrony.susy(x, y, 8.0, segment=30, max_lag=2)
    n = int(full.n_segments)
    every = md.synchrony.susy(x, y, 8.0, segment=30, max_lag=2, n_surrogates=n * (n - 1), seed=0)
    np.testing.assert_allclose(every.z_pseudo, full.z_pseudo, atol=1e-12)
    a = md.synchrony.susy(x, y, 8.0, segment=30, max_lag=2, n_surrogates=20, seed=1)
    b = md.synchrony.susy(x, y, 8.0, segment=30, max_lag=2, n_surrogates=20, seed=1)
    c = md.synchrony.susy(x, y, 8.0, segment=30, max_lag=2, n_surrogates=20, seed=2)
    np.testing.assert_array_equal(a.z_pseudo, b.z_pseudo)
    assert not np.array_equal(a.z_pseudo, c.z_pseudo)
    np.testing.assert_allclose(a.z_real, full.z_real, atol=1e-14)  # real pairs: not sampled


def test_constant_segment_adds_nothing_but_counts():
    rng = np.random.default_rng(7)
    x = _smooth_noise(rng, 120)
    y = _smooth_noise(rng, 120)
    x[:40] = 2.0  # first of three 40-sample segments is flat
    prof = _susy_profiles(x.reshape(3, 40), y.reshape(3, 40), 2)
    ref = _susy_loop(x, y, 40, 2)
    np.testing.assert_allclose(prof["z_real"], ref["z_real"], atol=1e-12)
    np.testing.assert_allclose(prof["z_pseudo"], ref["z_pseudo"], atol=1e-12)
    assert np.isfinite(list(_susy_summaries(prof, 2).values())).sum() >= 10


@pytest.mark.parametrize("case", ["noise", "one flat segment", "identical", "all flat"])
def test_every_pair_by_products_equals_every_pair_sampled(case):
    """Every pair (a matrix product per lag) and all pseudo pairs drawn as a sample
    (FFT cross-spectra per pair) are two computations of the same profiles,
    including perfect correlations (infinite z) and undefined pairs (NaN)."""
    rng = np.random.default_rng(3)
    x, y = _smooth_noise(rng, 400), _smooth_noise(rng, 400)
    if case == "one flat segment":
        y[120:160] = 1.5
    elif case == "identical":
        y = x.copy()
    elif case == "all flat":
        x[:] = 2.0
    sx, sy = x.reshape(10, 40), y.reshape(10, 40)
    with np.errstate(divide="ignore", invalid="ignore"):
        every = _susy_profiles(sx, sy, 5)
        sampled = _susy_profiles(sx, sy, 5, n_surrogates=90, rng=np.random.default_rng(0))
    assert list(every) == list(sampled)
    for name in every:
        np.testing.assert_allclose(every[name], sampled[name], rtol=1e-12, atol=1e-13)
    if case == "identical":
        assert np.isinf(every["z_real"][5]) and np.isfinite(every["z_pseudo"]).all()
    if case == "all flat":
        assert np.isnan(every["z_real"]).all() and np.isnan(every["z_pseudo"]).all()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(segment=10, max_lag=6), r"at least 2 \* max_lag"),
        (dict(segment=100, max_lag=3), "SUSY needs at least 2"),
        (dict(segment=30, max_lag=3, n_surrogates=1000), "exceeds the 6 pseudo pairs"),
        (dict(segment=30, max_lag=3, n_surrogates=0), "positive integer or None"),
        (dict(segment=-1, max_lag=3), "segment must be"),
    ],
)
def test_bad_input(kwargs, match):
    x = np.random.default_rng(0).standard_normal(8 * 90)
    with pytest.raises(ValueError, match=match):
        md.synchrony.susy(x, x[::-1].copy(), 8.0, **kwargs)


def test_pair_loop_reference_agrees():
    """The benchmark's reference (one ccf per pair, as R) equals the vectorised SUSY."""
    from mne_dyad.synchrony._reference import _susy_pairs_loop

    rng = np.random.default_rng(8)
    x = _smooth_noise(rng, 8 * 240)
    y = np.roll(x, 6) + _smooth_noise(rng, 8 * 240)
    res = md.synchrony.susy(x, y, 8.0, segment=30, max_lag=5)
    ref = _susy_pairs_loop(x, y, 240, 40)
    for key in ("z_real", "z_pseudo", "z_real_noabs", "z_pseudo_noabs"):
        np.testing.assert_allclose(res[key].values, ref[key], rtol=0, atol=1e-12)
