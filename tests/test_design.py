"""Design analysis: the fast path's calibration, and its agreement with the model."""

import numpy as np
import pandas as pd
import pytest

from mne_dyad.stats import design_analysis
from mne_dyad.stats._design import _fast_interval, _simulate_design

#: The model the fast path stands for.
FIXED = {
    "random_slopes": False,
    "detrend": False,
    "session_covariate": "linear",
    "centering": "observed",
}


def test_simulated_designs_have_the_stated_correlation():
    rng = np.random.default_rng(0)
    P, y = _simulate_design(rng, 20000, 5, 0.4, 0.5, 0.3, 0.5)
    p = P - P.mean(1, keepdims=True)
    q = y - y.mean(1, keepdims=True)
    r = np.sum(p * q) / np.sqrt(np.sum(p**2) * np.sum(q**2))
    assert r == pytest.approx(0.4 * np.sqrt(0.5), abs=0.008)  # attenuated by reliability
    # the share of the observed within-dyad variance that is true: reliability 0.5 of
    # a within variance of 1 - icc_sync = 0.7
    assert np.sum(p**2) / (P.size - P.shape[0]) == pytest.approx(0.7 / 0.5, rel=0.02)
    P2, _ = _simulate_design(np.random.default_rng(0), 20000, 5, 0.4, 0.5, 0.3, 0.5)
    assert np.array_equal(P, P2)  # same seed, same study
    r_fast, lower, upper = _fast_interval(P, y, 0.89)
    assert lower < r_fast < upper and upper - lower < 0.05


def test_fast_path_is_calibrated_and_power_grows_with_dyads():
    table = design_analysis([15, 60], 4, [0.0, 0.3], reliability=0.7, n_sims=600, seed=1)
    null = table[table.rho_within == 0.0]
    # 89% intervals: 11% false positives and 89% coverage, within 3 MC SEs
    for _, row in null.iterrows():
        assert abs(row.power - 0.11) < 3 * np.sqrt(0.11 * 0.89 / 600)
    assert (abs(table.coverage - 0.89) < 3 * np.sqrt(0.89 * 0.11 / 600)).all()
    effect = table[table.rho_within == 0.3].set_index("n_dyads")
    assert effect.loc[60, "power"] > effect.loc[15, "power"] + 0.3
    assert effect.loc[60, "width"] < effect.loc[15, "width"]
    assert set(table.columns) >= {"power_se", "coverage_se", "width_se", "method", "n_sims"}
    assert table.power_se.iloc[0] == pytest.approx(
        np.sqrt(table.power.iloc[0] * (1 - table.power.iloc[0]) / 600)
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_dyads": 2}, "n_dyads must be an integer of at least 3"),
        ({"sessions_per_dyad": 1}, "sessions_per_dyad must be an integer of at least 2"),
        ({"rho_within": 1.0}, r"rho_within must be in \(-0.99, 0.99\]"),
        ({"reliability": 0.0}, r"reliability must be in \(0.0, 1.0\]"),
        ({"method": "exact"}, "'method' parameter"),
        ({"n_sims": 0}, "n_sims must be an integer of at least 1"),
        ({"model_options": {"random_slopes": False}}, 'applies to method="model" only'),
        (
            {"method": "model", "model_options": {"draws": 10}},
            r"model_options has \['draws'\], which are not fit_alliance_model arguments",
        ),
        ({"method": "model", "model_options": {"slopes": True}}, r"choose from \["),
    ],
)
def test_design_analysis_bad_input(kwargs, match):
    args = {"n_dyads": 10, "sessions_per_dyad": 4, "rho_within": 0.2, **kwargs}
    with pytest.raises(ValueError, match=match):
        design_analysis(args.pop("n_dyads"), args.pop("sessions_per_dyad"), **args)


@pytest.mark.slow
@pytest.mark.calibration
def test_fast_path_agrees_with_the_alliance_model():
    """The power and coverage of the model the fast path stands for (one slope for all
    dyads, no detrending) match the fast path's, within Monte Carlo error."""
    design = dict(reliability=0.7, n_sims=60, seed=4)
    fast = design_analysis(20, 5, 0.3, **design).iloc[0]
    model = design_analysis(
        20, 5, 0.3, method="model", draws=300, tune=300, model_options=FIXED, **design
    ).iloc[0]
    se = np.hypot(fast.power_se, model.power_se)
    assert abs(fast.power - model.power) < 2.5 * se
    assert model.coverage > 0.8
    assert model.width == pytest.approx(fast.width, rel=0.2)


@pytest.mark.slow
def test_model_path_does_not_depend_on_n_jobs():
    """The studies and sampler seeds are drawn first: 2 processes give 1 process's table
    (the fixed-slope model: with random slopes a process that compiles the model and one
    that loads it from the disk cache can differ in the last bits, and the chains then
    part; see the user guide)."""
    design = dict(reliability=0.7, n_sims=4, seed=9, method="model", draws=200, tune=200)
    design["model_options"] = FIXED
    one = design_analysis(12, 4, 0.3, n_jobs=1, **design)
    two = design_analysis(12, 4, 0.3, n_jobs=2, **design)
    pd.testing.assert_frame_equal(one, two)
    assert 0.0 < one.width.iloc[0] < 2.0 and one.n_sims.iloc[0] == 4
