"""Property tests (hypothesis): symmetry under x/y swap, affine invariance, ranges."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import mne_dyad as md
from mne_dyad.synchrony._api import METHODS
from mne_dyad.synchrony._wclc import _window_summaries

SFREQ = 4.0
PARAMS = {
    "wclc": dict(lag=2.0, window=15.0, step=5.0),
    "peak_picking": dict(lag=2.0, window=15.0, step=5.0),
    "susy": dict(segment=15.0, max_lag=2.0),
    "concordance": dict(slope_window=2.0, slope_step=0.5, corr_window=5.0),
    "phase": dict(band=(0.1, 0.8), window=15.0, step=5.0),
}
RANGES = {
    "wclc": {"all_lags": (0, 10), "peak": (0, 10), "best_lag": (-2, 2)},
    "peak_picking": {"peak_r": (-1, 1), "peak_lag": (-2, 2)},
    "susy": {"pct_above": (0, 100), "n_in_phase": (0, 17)},
    "concordance": {"ssi": (-10, 10), "pct_positive": (0, 100), "mean_r": (-1, 1)},
    "phase": {"plv": (0, 1), "phase_sync": (0, 1)},
}

signals = st.integers(0, 2**31 - 1).map(np.random.default_rng)


def _pair(rng, n=480):
    x = np.convolve(rng.standard_normal(n), np.ones(4) / 4, mode="same")
    y = 0.6 * np.roll(x, rng.integers(0, 6)) + np.convolve(
        rng.standard_normal(n), np.ones(4) / 4, mode="same"
    )
    return x, y


def _run(method, x, y):
    spec = METHODS[method]
    samples = spec.samples(spec.check_params(PARAMS[method]), SFREQ)
    px, py = spec.prepare(x, y, SFREQ, samples)
    return spec.pool([spec.compute(px, py, SFREQ, samples)], SFREQ, samples)


@settings(max_examples=25, deadline=None)
@given(rng=signals)
def test_wclc_swap_mirrors_lags_and_swaps_leads(rng):
    x, y = _pair(rng)
    a = md.synchrony.wclc(x, y, SFREQ, **PARAMS["wclc"])
    b = md.synchrony.wclc(y, x, SFREQ, **PARAMS["wclc"])
    np.testing.assert_allclose(a.values, b.values[:, ::-1], atol=1e-10)
    sa = _window_summaries(a.values, a.lag.values)
    sb = _window_summaries(b.values, b.lag.values)
    np.testing.assert_allclose(sa["x_leads"], sb["y_leads"], atol=1e-10)
    np.testing.assert_allclose(sa["y_leads_0"], sb["x_leads_0"], atol=1e-10)
    np.testing.assert_allclose(sa["all_lags"], sb["all_lags"], atol=1e-10)


@settings(max_examples=25, deadline=None)
@given(rng=signals)
def test_susy_swap_mirrors_profiles_and_leads(rng):
    x, y = _pair(rng)
    a = md.synchrony.susy(x, y, SFREQ, **PARAMS["susy"])
    b = md.synchrony.susy(y, x, SFREQ, **PARAMS["susy"])
    for key in ("z_real", "z_pseudo", "z_real_noabs", "z_pseudo_noabs"):
        np.testing.assert_allclose(a[key].values, b[key].values[::-1], atol=1e-10)
    np.testing.assert_allclose(float(a.Z_lead1), float(b.Z_lead2), atol=1e-10)
    np.testing.assert_allclose(float(a.ES), float(b.ES), atol=1e-8)


@settings(max_examples=15, deadline=None)
@given(
    rng=signals,
    scale_x=st.floats(1e-7, 1e4),
    scale_y=st.floats(1e-7, 1e4),
    shift=st.floats(-1e3, 1e3),  # in units of each signal's scale
    method=st.sampled_from(sorted(PARAMS)),
)
def test_affine_invariance_and_ranges(rng, scale_x, scale_y, shift, method):
    x, y = _pair(rng)
    base = _run(method, x, y)
    moved = _run(method, (x + shift) * scale_x, (y - shift) * scale_y)
    for key, value in base.items():
        np.testing.assert_allclose(moved[key], value, rtol=1e-6, atol=1e-6, err_msg=key)
    for key, (low, high) in RANGES[method].items():
        assert low - 1e-12 <= base[key] <= high + 1e-12, (key, base[key])
