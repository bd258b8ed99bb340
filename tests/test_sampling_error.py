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


def test_window_mean_se_short_series_are_not_biased_low():
    """Many short AR(1) annotations: centring each on its own mean biases a naive
    estimate low (0.89 of the truth here); the two corrections bring it to 0.96."""
    rng = np.random.default_rng(1)
    rho, m, n = 0.2, 3000, 15
    x = np.empty((m, n))
    x[:, 0] = rng.standard_normal(m)
    e = rng.standard_normal((m, n)) * np.sqrt(1 - rho**2)
    for t in range(1, n):
        x[:, t] = rho * x[:, t - 1] + e[:, t]
    truth = np.sqrt(m * n * _ar1_factor(n, rho)) / (m * n)
    assert _window_mean_se(list(x)) == pytest.approx(truth, rel=0.06)
    # white noise in series of 10: no spurious autocorrelation either way
    white = list(rng.standard_normal((m, 10)))
    assert _window_mean_se(white) == pytest.approx(1 / np.sqrt(m * 10), rel=0.04)


@pytest.mark.slow
@pytest.mark.calibration
@pytest.mark.parametrize("coupling", [0.0, 0.25, 0.5])
def test_se_matches_the_spread_of_replicate_sessions(coupling):
    """Over replicate sessions of one true coupling, SD(values) / RMS(SE) is 0.9 to 1.1.

    The naive SE, std / sqrt(n_windows), gives 1.1 to 1.3 here (overlapping windows);
    the AR(1) SE without small-sample corrections 1.04 to 1.08, with them 0.99 to 1.04.
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


def test_split_half_known_answers():
    from mne_dyad.synchrony._wclc import _split_block, _split_half

    # blocks of 2: windows 0,1 | 2,3 | 4 -> halves {0, 1, 4} and {2, 3}
    series = [np.array([1.0, 1.0, 3.0, 3.0, 1.0])]
    assert _split_half(series, 2) == pytest.approx(1.0 - 3.0)
    # each annotation starts its own blocks; missing windows are left out
    series = [np.array([2.0, 5.0, np.nan, 3.0]), np.array([4.0])]
    assert _split_half(series, 1) == pytest.approx(3.0 - 4.0)
    assert np.isnan(_split_half([np.array([1.0])], 1))
    # 30 s windows + 10 s lag, 15 s step: windows 3 apart share no sample
    assert _split_block({"w": 240, "L": 80, "s": 120}) == 3
    assert _split_block({"w": 240, "L": 0, "s": 240}) == 1


def test_reliability_recovers_true_and_error_variance():
    """Cells with true SD tau and window noise: the split-half reliability is tau2 / var."""
    import xarray as xr

    from mne_dyad.synchrony._reliability import _reliability_of

    rng = np.random.default_rng(3)
    n_dyads, n_sessions, tau, sigma = 60, 8, 0.05, 0.3
    n = rng.integers(20, 80, (n_dyads, n_sessions, 1)).astype(float)
    true = 0.4 + tau * rng.standard_normal((n_dyads, n_sessions, 1))
    odd = true + sigma * rng.standard_normal(n.shape) / np.sqrt(n / 2)
    even = true + sigma * rng.standard_normal(n.shape) / np.sqrt(n / 2)
    dims = ("dyad", "session", "segment")
    per_cell, pooled = _reliability_of(
        xr.DataArray((odd + even) / 2, dims=dims),
        xr.DataArray(odd - even, dims=dims),
        xr.DataArray(n, dims=dims),
    )
    err = sigma**2 / n
    expected_pooled = tau**2 / (tau**2 + err.mean())
    assert float(pooled[0]) == pytest.approx(expected_pooled, abs=0.05)
    assert np.corrcoef(per_cell.values.ravel(), (tau**2 / (tau**2 + err)).ravel())[0, 1] > 0.99
    # no true variance: reliability near 0; no error: near 1
    _, null = _reliability_of(
        xr.DataArray(0.4 + (odd - true + even - true) / 2, dims=dims),
        xr.DataArray(odd - even, dims=dims),
        xr.DataArray(n, dims=dims),
    )
    assert float(null[0]) < 0.1
    _, exact = _reliability_of(
        xr.DataArray(true, dims=dims), xr.DataArray(0 * true, dims=dims), xr.DataArray(n, dims=dims)
    )
    assert float(exact[0]) == pytest.approx(1.0)


def test_cube_has_reliability_per_cell_and_pooled():
    study = md.simulation.simulate_study(
        n_dyads=6, n_sessions=3, n_usable=18, duration=900, seed=4, verbose=False
    )
    cube = md.synchrony_cube(study.raws, verbose=False)
    rel, pooled = cube["all_lags_reliability"], cube["all_lags_reliability_pooled"]
    assert rel.dims == ("dyad", "session", "segment") and pooled.dims == ("segment",)
    finite = rel.values[np.isfinite(rel.values)]
    assert finite.size > 20 and (finite >= 0).all() and (finite <= 1).all()
    assert ((pooled >= 0) & (pooled <= 1)).all()
    # per-cell values average close to the pooled value (equal windows would make them equal)
    assert float(abs(rel.mean(("dyad", "session")) - pooled).max()) < 0.15
    assert "client_leads_reliability" in cube
    # the lazy cube gives the same numbers
    lazy = md.synchrony_cube(study.raws, chunks={"dyad": 3}, verbose=False).compute()
    np.testing.assert_allclose(lazy["all_lags_reliability_pooled"], pooled)


@pytest.mark.slow
@pytest.mark.calibration
@pytest.mark.parametrize("coupling", [0.0, 0.5])
def test_split_half_error_matches_replicates_and_alternate_windows_do_not(coupling):
    """The block split's error SD matches the spread of replicate sessions (ratio 1.05-1.10
    measured); splitting alternate windows understates it by a third (ratio ~1.5)."""
    import mne_dyad.synchrony._wclc as wclc_module

    segments = [("IM", 60.0, 480.0), ("CB", 600.0, 300.0), ("IM", 960.0, 300.0)]
    raws = [
        md.simulation.simulate_session(
            duration=1300.0, coupling=coupling, segments=segments, seed=5000 + s, verbose=False
        )
        for s in range(150)
    ]

    def spread_ratio():
        out = [md.synchrony.compute_synchrony(r, segments="IM", verbose=False) for r in raws]
        values = np.array([float(o.all_lags[0]) for o in out])
        splits = np.array([float(o.all_lags_split[0]) for o in out])
        return np.std(values, ddof=1) / np.sqrt(np.var(splits, ddof=1) / 4)

    assert 0.9 <= spread_ratio() <= 1.2
    block = wclc_module._split_block
    try:
        wclc_module._split_block = lambda samples: 1
        assert spread_ratio() > 1.3
    finally:
        wclc_module._split_block = block
