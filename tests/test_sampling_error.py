"""Sampling error of window-mean summaries: an SE that matches the spread of replicates."""

import numpy as np
import pytest

import mne_dyad as md
from mne_dyad.synchrony._sampling_error import _ar1_factor, _window_mean_se


def test_ar1_factor_known_answers():
    assert _ar1_factor(1, 0.5) == 1.0 and _ar1_factor(10, 0.0) == 1.0
    # n = 2: Var(mean) = (1 + rho) / 2, so n * Var / Var(one) = 1 + rho
    assert _ar1_factor(2, 0.5) == pytest.approx(1.5)
    # large n: (1 + rho) / (1 - rho)
    assert _ar1_factor(100_000, 0.5) == pytest.approx(3.0, rel=1e-3)


def test_window_mean_se_known_cases():
    rng = np.random.default_rng(0)
    # independent values: the usual SE, up to the pooled (per-annotation) variance
    white = [rng.standard_normal(4000), rng.standard_normal(6000)]
    se = _window_mean_se(white)
    assert se == pytest.approx(1 / np.sqrt(10_000), rel=0.05)
    # AR(1) with rho = 0.6: the SE is sqrt((1 + rho) / (1 - rho)) times larger
    rho, n = 0.6, 20_000
    e = rng.standard_normal(n) * np.sqrt(1 - rho**2)
    x = np.empty(n)
    x[0] = rng.standard_normal()
    for t in range(1, n):
        x[t] = rho * x[t - 1] + e[t]
    assert _window_mean_se([x]) == pytest.approx(np.sqrt(4.0 / n), rel=0.08)
    # windows without a value are left out; too few windows give NaN
    gappy = np.r_[white[0][:100], np.nan, white[0][100:200]]
    assert np.isfinite(_window_mean_se([gappy]))
    assert np.isnan(_window_mean_se([np.array([1.0]), np.array([np.nan])]))
    # one window per annotation: their spread about the grand mean
    ones = [np.array([v]) for v in (1.0, 2.0, 3.0, 4.0)]
    assert _window_mean_se(ones) == pytest.approx(np.std([1, 2, 3, 4], ddof=1) / 2)


@pytest.mark.slow
@pytest.mark.parametrize("coupling", [0.0, 0.25, 0.5])
def test_se_matches_the_spread_of_replicate_sessions(coupling):
    """Over replicate sessions of one true coupling, SD(values) / RMS(SE) is 0.9 to 1.1.

    The naive SE, std / sqrt(n_windows), gives 1.1 to 1.3 here (overlapping windows).
    """
    segments = [("IM", 60.0, 480.0), ("CB", 600.0, 300.0), ("IM", 960.0, 300.0)]
    values, ses = [], []
    for seed in range(240):
        raw = md.simulation.simulate_session(
            duration=1300.0, coupling=coupling, segments=segments, seed=5000 + seed, verbose=False
        )
        res = md.synchrony.compute_synchrony(raw, segments="IM", verbose=False)
        values.append(float(res["all_lags"].sel(segment="IM")))
        ses.append(float(res["all_lags_se"].sel(segment="IM")))
    ratio = np.std(values, ddof=1) / np.sqrt(np.mean(np.square(ses)))
    assert 0.9 <= ratio <= 1.1, ratio
