"""Peak picking, slope concordance (SSI) and phase synchrony: closed-form cases."""

import math

import numpy as np
import pytest

import mne_dyad as md
from mne_dyad.synchrony._concordance import _ConcordanceMethod, _slopes, _ssi
from mne_dyad.synchrony._phase import _PhaseMethod
from mne_dyad.synchrony._wclc import _moving_average, _pick_peaks

LAGS = np.arange(-3, 4) / 1.0


def test_pick_peaks_hand_made_curves():
    r = np.array(
        [
            [0.1, 0.5, 0.2, 0.3, 0.25, 0.6, 0.1],  # peaks at -2, 0, +2: nearest is 0
            [0.1, 0.5, 0.2, 0.1, 0.2, 0.5, 0.1],  # -2 and +2 tie in distance and value: -2
            [0.1, 0.4, 0.2, 0.1, 0.2, 0.6, 0.1],  # -2 and +2 tie in distance: larger (+2)
            [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7],  # monotone: the end lag is no peak -> NaN
            [0.1, 0.3, 0.2, np.nan, 0.2, 0.5, 0.1],  # NaN at 0 spoils +-1; peaks -2 and +2
        ]
    )
    peak_r, peak_lag = _pick_peaks(r, LAGS)
    np.testing.assert_array_equal(peak_lag[:3], [0.0, -2.0, 2.0])
    np.testing.assert_array_equal(peak_r[:3], [0.3, 0.5, 0.6])
    assert np.isnan(peak_r[3]) and np.isnan(peak_lag[3])
    assert peak_lag[4] == 2.0 and peak_r[4] == 0.5
    none = _pick_peaks(np.array([[0.1, 0.2, np.nan, 0.4, 0.3, 0.2, 0.1]]), LAGS)
    assert np.isnan(none[0][0])  # a NaN neighbour disqualifies lag 0; nothing else peaks


def test_moving_average_centred():
    r = np.array([[1.0, 2.0, 3.0, 10.0, 5.0]])
    np.testing.assert_allclose(_moving_average(r, 3), [[np.nan, 2.0, 5.0, 6.0, np.nan]])


def test_peak_picking_finds_the_delay():
    t = np.arange(8 * 200) / 8.0
    x = np.sin(2 * np.pi * t / 12) + 0.3 * np.sin(2 * np.pi * t / 5)
    peaks = md.synchrony.peak_picking(x, np.roll(x, 12), 8.0, lag=4, window=30, step=15)
    np.testing.assert_allclose(peaks.peak_lag, 1.5)  # y follows x by 1.5 s
    np.testing.assert_allclose(peaks.peak_r, 1.0, atol=1e-12)
    with pytest.raises(ValueError, match="odd positive integer"):
        md.synchrony.peak_picking(x, x, 8.0, lag=4, window=30, step=15, smooth=2)


def test_slopes_of_ramps_and_gaps():
    sfreq = 4.0
    t = np.arange(200) / sfreq
    x = 0.5 * t + 3.0
    np.testing.assert_allclose(_slopes(x, sfreq, 20, 4), 0.5, atol=1e-12)
    x[20:33] = np.nan  # window [20, 40) has 13 of 20 missing -> NaN; [24, 44) keeps 11
    sl = _slopes(x, sfreq, 20, 4)
    assert np.isnan(sl[5]) and sl[6] == pytest.approx(0.5)


def test_ssi_known_answers():
    assert _ssi(np.array([0.5, 0.5, -0.25])) == pytest.approx(math.log(4))
    assert _ssi(np.array([0.2, 0.3, np.nan])) == 10.0
    assert _ssi(np.array([-0.2, -0.3])) == -10.0
    assert np.isnan(_ssi(np.array([0.0, np.nan])))


def _concordance(x, y, sfreq):
    method = _ConcordanceMethod()
    samples = method.samples(method.check_params({}), sfreq)
    return method.pool([method.compute(x, y, sfreq, samples)], sfreq, samples)


def test_concordance_identical_opposite_independent():
    rng = np.random.default_rng(0)
    sfreq = 8.0
    x = np.cumsum(rng.standard_normal(8 * 300)) * 0.01
    same = _concordance(x, x, sfreq)
    assert same["ssi"] == 10.0 and same["pct_positive"] == 100.0
    assert same["mean_r"] == pytest.approx(1.0)
    opposite = _concordance(x, -x, sfreq)
    assert opposite["ssi"] == -10.0 and opposite["pct_positive"] == 0.0
    y = np.cumsum(rng.standard_normal(8 * 300)) * 0.01
    indep = _concordance(x, y, sfreq)
    assert abs(indep["ssi"]) < 1.0 and 25 < indep["pct_positive"] < 75
    # 300 s: slopes at 0..295 s (296), running windows of 15 slopes: 282
    assert indep["n_windows"] == 296 - 15 + 1


def _phase(x, y, sfreq, **params):
    method = _PhaseMethod()
    samples = method.samples(method.check_params(params), sfreq)
    px, py = method.prepare(x, y, sfreq, samples)
    keep = slice(8 * 60, -8 * 60)  # away from the filter's edges
    return method.pool([method.compute(px[keep], py[keep], sfreq, samples)], sfreq, samples)


def test_phase_closed_forms():
    sfreq = 8.0
    t = np.arange(8 * 600) / sfreq
    x = np.sin(2 * np.pi * 0.2 * t)
    same = _phase(x, x, sfreq)
    assert same["plv"] == pytest.approx(1.0) and same["phase_sync"] == pytest.approx(1.0)
    quarter = _phase(x, np.sin(2 * np.pi * 0.2 * t - np.pi / 2), sfreq)
    assert quarter["plv"] == pytest.approx(1.0, abs=1e-3)
    assert quarter["phase_sync"] == pytest.approx(1 - math.sin(math.pi / 4), abs=2e-3)
    anti = _phase(x, -x, sfreq)
    assert anti["plv"] == pytest.approx(1.0, abs=1e-6)
    assert anti["phase_sync"] == pytest.approx(0.0, abs=1e-3)
    rng = np.random.default_rng(1)
    noise = _phase(rng.standard_normal(t.size), rng.standard_normal(t.size), sfreq)
    assert noise["plv"] < 0.5 and 0.2 < noise["phase_sync"] < 0.5


def test_phase_band_errors():
    with pytest.raises(ValueError, match="low < high"):
        _PhaseMethod().check_params({"band": (0.5, 0.1)})
    method = _PhaseMethod()
    with pytest.raises(ValueError, match="Nyquist"):
        method.samples(method.check_params({"band": (0.1, 5.0)}), 8.0)
