"""Alliance model options, variance decomposition, and validation against the truth."""

import json
import logging
import warnings

import mne
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import mne_dyad as md
from mne_dyad.stats._alliance_graph import _build_alliance_model
from mne_dyad.stats._models import _prepare_alliance_data

TRUTH = {("within", "IM", "bond"): 0.5, ("between", "IM", "bond"): 0.4}


#: The model form of 0.1's defaults: one within slope for all dyads, no detrending, a
#: linear session term, observed centring (tests whose known answers are written for
#: that form).
FIXED_0_1 = dict(
    random_slopes=False, detrend=False, session_covariate="linear", centering="observed"
)


def _data(**kwargs):
    cube, alliance = md.simulation.simulate_model_data(n_dyads=8, n_sessions=4, seed=0)
    cube["all_lags_se"] = xr.full_like(cube.all_lags, 0.05)
    cube = cube.assign_coords(therapist=("dyad", [f"T{i % 3}" for i in range(8)]))
    return cube, alliance


def _model(**kwargs):
    cube, alliance = _data()
    prep_keys = ("measurement_error", "missing", "therapist", "ceiling", "outcomes")
    prep = {k: kwargs.pop(k) for k in prep_keys if k in kwargs}
    if prep.get("missing") == "impute":
        cube["all_lags"][0, 1, 0] = np.nan
        cube["all_lags"][3, 2, 1] = np.nan
    data = _prepare_alliance_data(cube, alliance, **prep)
    return data, _build_alliance_model(data, **kwargs)


def test_options_change_the_model_as_documented():
    _, base = _model()
    assert {"chol_dyad", "chol_resid"} <= set(base.named_vars)
    assert "sigma_dyad" not in base.named_vars
    _, uni = _model(multivariate=False)
    assert {"sigma_dyad", "sigma_resid"} <= set(uni.named_vars)
    assert "chol_dyad" not in uni.named_vars
    _, slopes = _model(random_slopes=True)
    assert slopes.named_vars_to_dims["sigma_slope"] == ("segment", "outcome")
    assert slopes.named_vars_to_dims["slope_dyad"] == ("dyad", "segment", "outcome")
    # each outcome's intercept and slopes correlated through its own LKJ (1 + 2 effects):
    # one 9 x 9 LKJ over all outcomes did not mix
    assert slopes.coords["dyad_effect"][:3] == ("bond: intercept", "bond: IM", "bond: CB")
    assert slopes["chol_dyad_block_corr"].eval().shape == (3, 3, 3)
    assert slopes.named_vars_to_dims["chol_dyad_block"] == ("outcome", "dyad_term", "dyad_term_col")
    assert slopes.coords["dyad_term"] == ("intercept", "IM", "CB")
    assert slopes.named_vars_to_dims["chol_dyad_block_cholcorr"] == (
        "outcome",
        "dyad_term",
        "dyad_term_col",
    )
    assert "chol_dyad" not in slopes.named_vars and "chol_resid" in slopes.named_vars
    # one outcome: multivariate has nothing to correlate (it raised IndexError)
    cube, alliance = _data()
    one = _build_alliance_model(_prepare_alliance_data(cube, alliance, outcomes=("bond",)))
    assert {"sigma_dyad", "sigma_resid"} <= set(one.named_vars)
    one.compile_logp()(one.initial_point())
    _, uni_slopes = _model(random_slopes=True, multivariate=False)
    assert {"chol_dyad_block", "sigma_resid"} <= set(uni_slopes.named_vars)
    assert uni_slopes["chol_dyad_block_corr"].eval().shape == (3, 3, 3)
    data, ther = _model(therapist=True)
    assert ther.named_vars_to_dims["sigma_therapist"] == ("outcome",)
    assert list(ther.coords["therapist"]) == ["T0", "T1", "T2"]
    assert data.therapist_idx.max() == 2
    _, me = _model(measurement_error=True)
    assert me.named_vars_to_dims["P_true"] == ("obs", "segment")
    assert "P_obs" in [rv.name for rv in me.observed_RVs]
    data, imp = _model(missing="impute")
    assert int(np.isnan(data.P).sum()) == 2
    assert imp["z_P_missing"].eval().shape == (2,)
    _, plain = _model(session_covariate=False)
    assert "gamma" not in plain.named_vars


def test_likelihood_and_ceiling_change_the_model():
    import pymc as pm
    from pymc.distributions.censored import CensoredRV

    _, mv_t = _model(likelihood="student_t")
    assert "nu" in mv_t.named_vars and "chol_resid" in mv_t.named_vars
    assert mv_t["y"].owner.op.__class__.__name__.startswith("MvStudentT")
    _, uni_t = _model(likelihood="student_t", multivariate=False)
    assert uni_t["y"].owner.op.__class__.__name__.startswith("StudentT")
    uni_t.compile_logp()(uni_t.initial_point())
    cube, alliance = _data()
    top = float(alliance.bond.max())
    data, cens = _model(ceiling={"bond": top}, multivariate=False)
    assert isinstance(cens["y"].owner.op, CensoredRV)
    assert np.isfinite(data.y_ceiling.sel(outcome="bond")) and np.isnan(data.y_ceiling[1:]).all()
    at_top = data.y.sel(outcome="bond").values == data.y_ceiling.sel(outcome="bond").values
    assert at_top.sum() == 1 and data.attrs["n_at_ceiling"].startswith("bond=1,")
    # a censored value adds P(y >= ceiling) to the log-likelihood, not the density there
    point = cens.initial_point()
    logp = cens.compile_logp(vars=[cens["y"]], sum=False)(point)[0]
    # at the initial point every coefficient and effect is 0, so mu is 0
    sigma, mu = float(np.exp(point["sigma_resid_log__"][0])), 0.0
    i = int(np.flatnonzero(at_top)[0])
    expected = pm.logcdf(pm.Normal.dist(mu, sigma), data.y_ceiling.values[0]).eval()
    assert logp[i, 0] == pytest.approx(np.log1p(-np.exp(expected)), abs=1e-6)
    # the scale's range, as read_sai writes it
    alliance["bond"].attrs["valid_range"] = f"1-{top:g}"
    auto = _prepare_alliance_data(cube, alliance, outcomes=("bond",), ceiling=True)
    np.testing.assert_allclose(auto.y_ceiling, data.y_ceiling[:1], rtol=1e-5)
    with pytest.raises(ValueError, match="'task' has none"):
        _prepare_alliance_data(cube, alliance, ceiling=True)
    with pytest.raises(ValueError, match=r"above its ceiling 0\.5"):
        _prepare_alliance_data(cube, alliance, ceiling={"bond": 0.5})
    with pytest.raises(ValueError, match=r"ceiling names outcome\(s\) \['trust'\]"):
        _prepare_alliance_data(cube, alliance, ceiling={"trust": 7})
    with pytest.raises(ValueError, match="needs multivariate=False"):
        md.stats.fit_alliance_model(cube, alliance, ceiling=True)
    with pytest.raises(ValueError, match="'likelihood' parameter"):
        md.stats.fit_alliance_model(cube, alliance, likelihood="cauchy")


def test_priors_set_the_prior_scales():
    import pymc as pm

    _, model = _model(priors={"beta": 0.25, "lkj_eta": 4.0})
    draws = pm.draw(model["beta"], draws=4000, random_seed=1)
    assert draws.std() == pytest.approx(0.25, rel=0.05)
    with pytest.raises(ValueError, match=r"Unknown prior\(s\) \['slope'\]"):
        _model(priors={"slope": 1.0})
    with pytest.raises(ValueError, match="must be a positive number"):
        _model(priors={"beta": -1.0})


def test_prepare_errors_name_what_is_missing():
    cube, alliance = _data()
    with pytest.raises(ValueError, match="needs the cube variable 'all_lags_se'"):
        _prepare_alliance_data(cube.drop_vars("all_lags_se"), alliance, measurement_error=True)
    with pytest.raises(ValueError, match="therapist=True needs a 'therapist' coordinate"):
        _prepare_alliance_data(cube.drop_vars("therapist"), alliance, therapist=True)
    with pytest.raises(ValueError, match=r"complete_on names segment\(s\) \['REST'\]"):
        _prepare_alliance_data(cube, alliance, complete_on=("IM", "REST"))
    with pytest.raises(ValueError, match="'missing' parameter"):
        _prepare_alliance_data(cube, alliance, missing="mean")


def test_complete_on_keeps_the_same_sessions():
    cube, alliance = _data()
    cube["all_lags"][2, 3, 1] = np.nan  # one session lacks CB
    im_only = _prepare_alliance_data(cube, alliance, segments=("IM",))
    im_same = _prepare_alliance_data(cube, alliance, segments=("IM",), complete_on=("IM", "CB"))
    both = _prepare_alliance_data(cube, alliance)
    assert im_only.sizes["obs"] == 32 and im_same.sizes["obs"] == both.sizes["obs"] == 31


def test_impute_keeps_the_observed_dyad_means():
    """missing="impute": data.X splits the observed values (NaN never counts as 0)."""
    cube, alliance = _data()
    cube["all_lags"][0, 1, 0] = np.nan
    data = _prepare_alliance_data(cube, alliance, missing="impute")
    P = data.P.values
    d0 = data.dyad_idx.values == 0
    observed = P[d0, 0][np.isfinite(P[d0, 0])]
    assert observed.size == 3
    within = data.X.sel(level="within", segment="IM").values[d0]
    between = data.X.sel(level="between", segment="IM").values[d0]
    np.testing.assert_allclose(within[np.isfinite(within)], observed - observed.mean())
    assert np.isnan(within).sum() == 1
    np.testing.assert_allclose(between, observed.mean() - np.nanmean(P[:, 0]))


def test_detrend_takes_out_each_dyads_own_line():
    from mne_dyad.stats._centering import _levels, _split_levels

    rng = np.random.default_rng(3)
    n_dyads, sessions = 5, np.arange(1.0, 7.0)
    dyad_idx = np.repeat(np.arange(n_dyads), 6)
    session = np.tile(sessions, n_dyads)
    slope = rng.normal(0, 1, n_dyads)
    P = (rng.normal(0, 1, n_dyads)[dyad_idx] + slope[dyad_idx] * session)[:, None]
    P = P + rng.normal(0, 0.1, P.shape)
    P = np.hstack([P, P[:, :1] * 2])
    P[[24, 25, 26, 27], 1] = np.nan  # dyad 4 keeps 2 CB sessions: only centred
    within, between = _split_levels(P, dyad_idx, n_dyads, session)
    for d in range(n_dyads):
        rows = dyad_idx == d
        fit = np.polyval(np.polyfit(session[rows], P[rows, 0], 1), session[rows])
        np.testing.assert_allclose(within[rows, 0], P[rows, 0] - fit, atol=1e-10)
    kept = np.isfinite(P[:, 1]) & (dyad_idx == 4)
    np.testing.assert_allclose(within[kept, 1], P[kept, 1] - P[kept, 1].mean())
    # without detrending: centring only; the between part is the same either way
    centred, between0 = _split_levels(P, dyad_idx, n_dyads)
    np.testing.assert_allclose(centred[:6, 0], P[:6, 0] - P[:6, 0].mean())
    np.testing.assert_allclose(between, between0)
    assert np.abs(centred[:, 0]).std() > 5 * np.abs(within[:, 0]).std()
    # the model's graph splits latent values with the same weights
    import pytensor.tensor as pt

    full = P[:, :1]
    for sess in (None, session):
        ref = _split_levels(full, dyad_idx, n_dyads, sess)
        w_np, b_np = _levels(full, dyad_idx, n_dyads, sess)
        w_pt, b_pt = _levels(pt.as_tensor(full), dyad_idx, n_dyads, sess, dot=pt.dot)
        for got in (w_np, w_pt.eval()):
            np.testing.assert_allclose(got, ref[0], atol=1e-12)
        for got in (b_np, b_pt.eval()):
            np.testing.assert_allclose(got, ref[1], atol=1e-12)


@pytest.mark.filterwarnings("ignore:The observed dyad means")
@pytest.mark.parametrize(
    "sessions, term",
    [((1, 2, 3, 4), "spline"), ((1, 2, 3), "linear"), ((2, 5), "linear"), ((3,), "None")],
)
def test_auto_session_term_follows_the_distinct_session_numbers(sessions, term):
    """``"auto"``: a spline with 4+ distinct session numbers, linear with 2-3, none with 1,
    and the prepared data say which (refits and the summary read it there)."""
    from mne_dyad.stats._models import _auto_session_term

    n_dyads = 5
    assert str(_auto_session_term(np.tile(sessions, n_dyads))) == term
    cube, alliance = md.simulation.simulate_model_data(
        n_dyads=n_dyads, n_sessions=max(sessions), seed=0
    )
    picked = [s - 1 for s in sessions]
    cube, alliance = cube.isel(session=picked), alliance.isel(session=picked)
    data = _prepare_alliance_data(cube, alliance, session_covariate="auto")
    assert data.attrs["session_covariate"] == term
    assert ("S" in data) == (term == "spline")
    assert np.allclose(data.session_c, 0) == (term == "None")  # one session number


def test_session_terms_and_trends_change_the_model():
    cube, alliance = md.simulation.simulate_model_data(n_dyads=8, n_sessions=6, seed=0)
    data = _prepare_alliance_data(cube, alliance, session_covariate="categorical")
    assert list(data.session_term.values) == [f"session {k}" for k in range(2, 7)]
    np.testing.assert_array_equal(data.S.sum("session_term").values[data.obs_session == 1], 0)
    model = _build_alliance_model(data, session_covariate="categorical")
    assert model.named_vars_to_dims["gamma"] == ("session_term", "outcome")
    spline = _prepare_alliance_data(cube, alliance, session_covariate="spline")
    assert list(spline.session_term.values) == ["linear", "spline 1", "spline 2"]
    np.testing.assert_allclose(spline.S.mean("obs"), 0, atol=1e-12)
    S = spline.S.values  # orthogonal columns of SD 1: their coefficients mix independently
    np.testing.assert_allclose(S.T @ S / (S.shape[0] - 1), np.eye(3), atol=1e-12)
    np.testing.assert_allclose(
        spline.S.sel(session_term="linear"), data.session_c * 1.0, atol=1e-12
    )  # the first column is the standardised session number
    t = spline.obs_session.values.astype(float)  # inside the knots the spline bends
    col = spline.S.sel(session_term="spline 1").values
    assert np.abs(np.polyval(np.polyfit(t, col, 1), t) - col).max() > 0.05
    # a restricted cubic spline is linear beyond its outer knots (0.5 and 9.5 here)
    from mne_dyad.stats._models import _spline_basis

    grid = np.linspace(0, 10, 101)
    basis = _spline_basis(grid)
    assert basis.shape == (101, 3)
    np.testing.assert_allclose(np.diff(basis[grid >= 9.5], 2, axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(basis[grid <= 0.5, 1:], 0, atol=1e-12)
    assert np.abs(np.diff(basis[(grid > 1) & (grid < 9)], 2, axis=0)).max() > 1e-4
    model = _build_alliance_model(spline, dyad_trends=True)
    assert model.named_vars_to_dims["trend_dyad"] == ("dyad", "outcome")
    assert model.named_vars_to_dims["sigma_trend"] == ("outcome",)
    with pytest.raises(ValueError, match="at least 4 distinct session numbers"):
        _prepare_alliance_data(cube.isel(session=[0, 1, 2]), alliance, session_covariate="spline")
    with pytest.raises(ValueError, match="'session_covariate' parameter"):
        _prepare_alliance_data(cube, alliance, session_covariate="quadratic")
    # True / False are the old spellings of "linear" / None
    for old, new in ((True, "linear"), (False, "None")):
        assert (
            _prepare_alliance_data(cube, alliance, session_covariate=old).attrs["session_covariate"]
            == new
        )


def _trend_study(seed, n_dyads=40, n_sessions=6):
    """No within effect; each dyad's synchrony and alliance drift together over sessions."""
    rng = np.random.default_rng(seed)
    s = np.arange(1.0, n_sessions + 1)
    b = rng.normal(0, 1, n_dyads)
    c = 0.8 * b + 0.6 * rng.normal(0, 1, n_dyads)  # the alliance's drift follows synchrony's
    P = rng.normal(0, 1, (n_dyads, 1)) + 0.3 * b[:, None] * s + rng.normal(0, 1, (n_dyads, 6))
    Y = rng.normal(0, 1, (n_dyads, 1)) + 0.3 * c[:, None] * s + rng.normal(0, 1, (n_dyads, 6))
    coords = {"dyad": [f"D{i}" for i in range(n_dyads)], "session": np.arange(1, 7)}
    cube = xr.Dataset(
        {"all_lags": (("dyad", "session", "segment"), P[..., None])},
        coords={**coords, "segment": ["IM"]},
    )
    return cube, xr.Dataset({"bond": (("dyad", "session"), Y)}, coords=coords)


@pytest.mark.slow
@pytest.mark.calibration
def test_detrend_removes_a_within_effect_made_by_dyad_trends():
    """Dyad-specific trends shared by synchrony and alliance look like a within effect
    (seed 0: 0.18 [0.07, 0.30] with the linear session term alone); detrending
    synchrony per dyad removes it (0.04 [-0.08, 0.16])."""
    cube, alliance = _trend_study(0)
    kw = dict(segments=("IM",), outcomes=("bond",), multivariate=False, draws=300, tune=300)
    kw.update(random_slopes=False, session_covariate="linear")
    within = "beta[within, IM, bond]"
    plain = md.stats.fit_alliance_model(
        cube, alliance, detrend=False, seed=1, verbose="error", **kw
    )
    fixed = md.stats.fit_alliance_model(cube, alliance, detrend=True, seed=1, verbose="error", **kw)
    plain, fixed = plain.summary().loc[within], fixed.summary().loc[within]
    assert plain.ci_lower > 0
    assert fixed.ci_lower < 0 < fixed.ci_upper
    assert abs(fixed["mean"]) < plain["mean"] / 3


@pytest.mark.slow
@pytest.mark.calibration
def test_random_slopes_recover_the_slope_sd():
    """Dyads' bond slopes on within IM synchrony vary (SD 0.4, correlated 0.5 with the
    intercepts) around 0; the slopes on CB do not vary."""
    rng = np.random.default_rng(0)
    n_dyads, n_sessions = 40, 6
    P = rng.normal(0, 0.5, (n_dyads, 1, 2)) + rng.normal(0, 1, (n_dyads, n_sessions, 2))
    u = rng.normal(0, 1, (n_dyads, 1))
    b = 0.4 * (0.5 * u + np.sqrt(0.75) * rng.normal(0, 1, (n_dyads, 1)))
    bond = 0.7 * u + b * (P - P.mean(1, keepdims=True))[..., 0]
    bond = bond + rng.normal(0, 1, bond.shape)
    coords = {"dyad": [f"D{i}" for i in range(n_dyads)], "session": np.arange(1, 7)}
    cube = xr.Dataset(
        {"all_lags": (("dyad", "session", "segment"), P)},
        coords={**coords, "segment": ["IM", "CB"]},
    )
    alliance = xr.Dataset({"bond": (("dyad", "session"), bond)}, coords=coords)
    fit = md.stats.fit_alliance_model(
        cube,
        alliance,
        outcomes=("bond",),  # one LKJ over (intercept, IM slope, CB slope)
        random_slopes=True,
        detrend=False,  # the slopes were simulated on the plain within split
        session_covariate="linear",
        standardize=False,
        draws=300,
        tune=300,
        seed=1,
        verbose="error",
    )
    table = fit.summary(["beta", "sigma_slope"])
    sd = table.loc["sigma_slope[IM, bond]"]
    assert 0.1 < sd.ci_lower < 0.4 < sd.ci_upper
    assert table.loc["sigma_slope[CB, bond]", "ci_upper"] < 0.3
    within = table.loc["beta[within, IM, bond]"]
    assert within.ci_lower < 0 < within.ci_upper
    # the fit's diagnostics cover the slopes' SDs, not only the betas
    assert fit.diagnostics["min_ess_bulk"] == pytest.approx(
        min(table.ess_bulk.min(), fit.summary(["alpha"]).ess_bulk.min())
    )


@pytest.mark.slow
@pytest.mark.calibration
def test_latent_centering_removes_the_pull_of_unreliable_dyad_means():
    """A pure within effect (0.5) and no between effect, dyad means of 4 sessions with
    reliability 0.5: observed centring gives beta[between] 0.27 [0.12, 0.43] (seed 0),
    latent centring -0.04 [-0.47, 0.35]."""
    rng = np.random.default_rng(0)
    n_dyads = 150
    m = rng.normal(0, 0.5, (n_dyads, 1))
    P = m + rng.normal(0, 1, (n_dyads, 4))
    bond = 0.5 * (P - m) + rng.normal(0, 0.7, (n_dyads, 1)) + rng.normal(0, 1, P.shape)
    coords = {"dyad": [f"D{i}" for i in range(n_dyads)], "session": np.arange(1, 5)}
    cube = xr.Dataset(
        {"all_lags": (("dyad", "session", "segment"), P[..., None])},
        coords={**coords, "segment": ["IM"]},
    )
    alliance = xr.Dataset({"bond": (("dyad", "session"), bond)}, coords=coords)
    kw = dict(
        segments=("IM",),
        outcomes=("bond",),
        multivariate=False,
        standardize=False,
        session_covariate=None,
        draws=300,
        tune=300,
        seed=1,
        verbose="error",
    )
    with pytest.warns(RuntimeWarning, match=r"reliability IM 0\.[3-6]"):
        observed = md.stats.fit_alliance_model(
            cube, alliance, centering="observed", **{**kw, "verbose": "warning"}
        )
    observed = observed.summary()
    latent = md.stats.fit_alliance_model(cube, alliance, centering="latent", **kw).summary()
    between = "beta[between, IM, bond]"
    assert observed.loc[between, "ci_lower"] > 0.05
    assert latent.loc[between, "ci_lower"] < 0 < latent.loc[between, "ci_upper"]
    for table in (observed, latent):  # the within beta is right either way
        assert table.loc["beta[within, IM, bond]", "ci_lower"] < 0.5
        assert table.loc["beta[within, IM, bond]", "ci_upper"] > 0.5
    assert latent.loc["contextual[IM, bond]", "ci_lower"] < -0.5 < 0


@pytest.mark.slow
def test_latent_centring_mixes_when_dyad_means_are_mostly_noise():
    """The calibration studies' geometry: 31 dyads x 4 sessions whose dyad means have
    reliability near 0 (tau 0.15 against a within SD of 1). The form that sampled the
    dyad means had max R-hat above 1.01 in 91% of such fits; integrated out, the
    default draws give R-hat 1.004 and min ESS 1,643 (seed 2), and the between
    beta's interval is the honest, wide one: -0.07 [-1.70, 1.49]."""
    rng = np.random.default_rng(5)
    n_dyads, n_sessions = 31, 4
    m = rng.normal(0, 0.15, (n_dyads, 1, 2))
    P = m + rng.normal(0, 1, (n_dyads, n_sessions, 2))
    u = rng.normal(0, 0.7, (n_dyads, 1, 3))
    y = 0.3 * (P[..., :1] - m[..., :1]) + u + rng.normal(0, 1, (n_dyads, n_sessions, 3))
    coords = {"dyad": [f"D{i}" for i in range(n_dyads)], "session": np.arange(1, 5)}
    cube = xr.Dataset(
        {"all_lags": (("dyad", "session", "segment"), P)},
        coords={**coords, "segment": ["IM", "CB"]},
    )
    alliance = xr.Dataset(
        {k: (("dyad", "session"), y[..., i]) for i, k in enumerate(("bond", "task", "goal"))},
        coords=coords,
    )
    fits = {
        # 0.1's model form, in which the numbers above were measured
        c: md.stats.fit_alliance_model(
            cube, alliance, **{**FIXED_0_1, "centering": c}, seed=2, verbose="error"
        )
        for c in ("observed", "latent")
    }
    latent = fits["latent"]
    assert latent.diagnostics["max_rhat"] < 1.01
    assert latent.diagnostics["min_ess_bulk"] >= latent.diagnostics["min_ess_required"]
    assert latent.diagnostics["divergences"] == 0
    within, between = "beta[within, IM, bond]", "beta[between, IM, bond]"
    tables = {c: fit.summary() for c, fit in fits.items()}
    for table in tables.values():  # the within beta (truth 0.3 points per SD) either way
        assert table.loc[within, "ci_lower"] < 0.3 < table.loc[within, "ci_upper"]
    width = {c: t.loc[between, "ci_upper"] - t.loc[between, "ci_lower"] for c, t in tables.items()}
    assert tables["latent"].loc[between, "ci_lower"] < 0 < tables["latent"].loc[between, "ci_upper"]
    assert width["latent"] > 2 * width["observed"]  # the dyad means carry little information


def _vd_cube(tau, sigma, phi=None, n_dyads=40, n_sessions=6, seed=0):
    rng = np.random.default_rng(seed)
    values = rng.normal(0, tau, (n_dyads, 1, 1)) + rng.normal(0, sigma, (n_dyads, n_sessions, 1))
    therapists = [f"T{i % 8}" for i in range(n_dyads)]
    if phi is not None:
        t_eff = rng.normal(0, phi, 8)
        values = values + t_eff[[int(t[1:]) for t in therapists]][:, None, None]
    return xr.Dataset(
        {"all_lags": (("dyad", "session", "segment"), 0.4 + 0.1 * values)},
        coords={
            "dyad": [f"D{i}" for i in range(n_dyads)],
            "session": np.arange(n_sessions),
            "segment": ["IM"],
            "therapist": ("dyad", therapists),
        },
    )


@pytest.mark.slow
def test_variance_decomposition_recovers_known_shares():
    cube = _vd_cube(tau=0.5, sigma=1.0, n_dyads=60)  # ICC_dyad = 0.25 / 1.25 = 0.2
    vd = md.stats.variance_decomposition(cube, seed=1, ci_prob=0.95, measurement_error=False)
    table = md.stats.variance_table(vd)
    icc = table.loc[("IM", "icc_dyad")]
    assert icc["ci_lower"] < 0.2 < icc["ci_upper"]
    post = vd["posterior"]
    np.testing.assert_allclose(post["icc_dyad"] + post["session_share"], 1.0, atol=1e-12)
    assert vd["summary"].attrs["ci_prob"] == 0.95
    ther = md.stats.variance_decomposition(
        _vd_cube(0.5, 1.0, phi=1.0), therapist=True, seed=1, measurement_error=False
    )
    t = md.stats.variance_table(ther).loc["IM"]
    assert list(t.index) == ["icc_therapist", "icc_dyad", "session_share"]
    shares = ther["posterior"].to_dataset()[["icc_therapist", "icc_dyad", "session_share"]]
    np.testing.assert_allclose(sum(shares.data_vars.values()), 1.0, atol=1e-12)
    assert t.loc["icc_therapist", "mean"] > 0.1  # phi^2 / total = 1 / 2.25 = 0.44


def test_variance_decomposition_bad_input():
    cube = _vd_cube(0.5, 1.0)
    with pytest.raises(ValueError, match="no variable 'peak'"):
        md.stats.variance_decomposition(cube, summary="peak")
    # the old name still works, with a FutureWarning, and cannot be mixed with the new
    with pytest.warns(FutureWarning, match="variable= was renamed summary="):
        with pytest.raises(ValueError, match="no variable 'peak'"):
            md.stats.variance_decomposition(cube, variable="peak")
    with pytest.raises(TypeError, match="both summary= and its old name variable="):
        md.stats.variance_decomposition(cube, summary="lag0", variable="peak")
    with pytest.raises(ValueError, match="needs at least 3"):
        md.stats.variance_decomposition(cube.isel(dyad=[0, 1]), measurement_error=False)
    with pytest.raises(ValueError, match="therapist=True needs"):
        md.stats.variance_decomposition(
            cube.drop_vars("therapist"), therapist=True, measurement_error=False
        )


def _fit(seed, betas, **kwargs):
    cube, alliance = md.simulation.simulate_model_data(
        n_dyads=20, n_sessions=5, betas=betas, seed=seed
    )
    fit = md.stats.fit_alliance_model(
        cube,
        alliance,
        standardize=False,
        session_covariate=False,
        random_slopes=False,  # the form simulate_model_data draws from
        detrend=False,
        seed=seed,
        verbose="error",
        **kwargs,
    )
    return json.loads(cube.attrs["mne_dyad_truth"]), fit.summary()


@pytest.mark.slow
@pytest.mark.calibration
@pytest.mark.heavy
def test_recovery_and_null_calibration():
    """89% intervals cover the simulated betas in >= 8 of 10 replications; with every
    beta zero, at most 20 percent of the intervals exclude zero."""
    covered, excluded = [], []
    for seed in range(10):
        truth, table = _fit(seed, TRUTH)
        covered.append([table.ci_lower[k] <= v <= table.ci_upper[k] for k, v in truth.items()])
        _, null = _fit(100 + seed, None)
        excluded.append(((null.ci_lower > 0) | (null.ci_upper < 0)).to_numpy())
    covered = pd.DataFrame(covered, columns=list(truth))
    for level, seg, out in TRUTH:
        assert covered[f"beta[{level}, {seg}, {out}]"].sum() >= 8
    assert covered.to_numpy().mean() >= 0.8
    assert np.mean(excluded) <= 0.2


@pytest.mark.slow
def test_agrees_with_statsmodels_mixedlm():
    """Univariate random-intercept model, diffuse priors: posterior means within 0.1
    posterior SD of the MixedLM estimates on the same data."""
    import statsmodels.formula.api as smf  # in the test extras: a broken install fails

    cube, alliance = md.simulation.simulate_model_data(
        n_dyads=31, n_sessions=5, betas={("within", "IM", "bond"): 0.4}, seed=1
    )
    fit = md.stats.fit_alliance_model(
        cube,
        alliance,
        outcomes=("bond",),
        multivariate=False,
        standardize=False,
        priors={"alpha": 10.0, "beta": 10.0, "gamma": 10.0, "sigma": 5.0},
        **FIXED_0_1,  # MixedLM's model: random intercepts, a linear session term
        draws=2000,
        seed=1,
    )
    d = fit.data
    df = pd.DataFrame(
        {
            "y": d.y.sel(outcome="bond").values,
            "dyad": d.obs_dyad.values,
            "session": d.session_c.values,
        }
    )
    terms = []
    for level in ("within", "between"):
        for seg in ("IM", "CB"):
            df[f"{level}_{seg}"] = d.X.sel(level=level, segment=seg).values
            terms.append(f"{level}_{seg}")
    ml = smf.mixedlm("y ~ " + " + ".join(terms) + " + session", df, groups=df["dyad"]).fit()
    table = fit.summary(("beta", "gamma"))
    for term in terms:
        level, seg = term.split("_")
        row = table.loc[f"beta[{level}, {seg}, bond]"]
        assert abs(row["mean"] - ml.params[term]) < 0.1 * row["sd"], term
    row = table.loc["gamma[bond]"]
    assert abs(row["mean"] - ml.params["session"]) < 0.1 * row["sd"]


@pytest.mark.slow
def test_posterior_predictive_and_loo_compare(tmp_path, caplog):
    cube, alliance = md.simulation.simulate_model_data(
        n_dyads=20, n_sessions=5, betas=TRUTH, seed=4
    )
    both = md.stats.fit_alliance_model(cube, alliance, seed=1, verbose="error")
    cb = md.stats.fit_alliance_model(
        cube, alliance, segments=("CB",), complete_on=("IM", "CB"), seed=1, verbose="error"
    )
    with caplog.at_level(logging.INFO, logger="pymc"), mne.utils.use_log_level("WARNING"):
        checks = both.posterior_predictive(seed=2)
    assert not [r for r in caplog.records if r.name.startswith("pymc")]  # quiet as mne
    # 3 outcomes x (8 statistics + a mean per session number)
    assert checks.shape == (3 * (8 + 5), 5)
    assert {"within_dyad_sd", "share_at_ceiling", "mean_session_5", "lag1_autocorr"} <= set(
        checks.index.get_level_values("statistic")
    )
    # the model generated the data (the share at the observed maximum is a one-sided check)
    central = checks.drop("share_at_ceiling", level="statistic")
    assert central.p_value.between(0.01, 0.99).all()
    mean = checks.loc[("bond", "mean")]
    assert mean["lower"] < mean["observed"] < mean["upper"]
    assert "posterior_predictive" in both.datatree.children
    back = md.stats.read_alliance_fit(both.to_netcdf(tmp_path / "fit.nc"))
    assert {"posterior_predictive", "log_likelihood"} <= set(back.datatree.children)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        table = both.compare(cb, names=["IM+CB", "CB only"])
    high = table["n_high_k"]
    assert high.between(0, both.data.sizes["obs"]).all()
    loo_warnings = [str(w.message) for w in record if "PSIS-LOO is unreliable" in str(w.message)]
    assert len(loo_warnings) == int((high > 0).any())  # one summary, not one per model
    for name, n in high[high > 0].items():
        assert f"{name}: {n} of {both.data.sizes['obs']}" in loo_warnings[0]
    assert table.index[0] == "IM+CB"  # the true model predicts better
    assert (
        table.loc["CB only", "elpd_diff"] > 0
        or table.loc["CB only", "elpd"] < table.loc["IM+CB", "elpd"]
    )
    im_own = md.stats.fit_alliance_model(
        cube.where(cube.session != 1), alliance, segments=("IM",), seed=1, verbose="error"
    )
    with pytest.raises(ValueError, match="fitted to other sessions"):
        both.compare(im_own)


@pytest.mark.slow
@pytest.mark.calibration
def test_targeted_checks_flag_a_ceiling_and_carried_over_residuals():
    """A normal model of bunched, autocorrelated ratings fails the checks aimed at both."""
    cube, alliance = md.simulation.simulate_model_data(
        n_dyads=30, n_sessions=6, outcomes=("bond",), betas=TRUTH, seed=5
    )
    rng = np.random.default_rng(5)
    carried = np.zeros((30, 6))
    for s in range(6):  # AR(1) residuals, phi 0.8
        carried[:, s] = 0.8 * carried[:, s - 1] * (s > 0) + rng.normal(0, 1, 30)
    latent = alliance.bond + 1.5 * carried
    top = float(np.quantile(latent, 0.75))  # a quarter of the sessions at the top
    bunched = alliance.assign(bond=np.minimum(latent, top))
    kwargs = dict(outcomes=("bond",), draws=300, tune=300, seed=1, verbose="error")
    normal = md.stats.fit_alliance_model(cube, bunched, **kwargs)
    checks = normal.posterior_predictive(seed=2).loc["bond"]
    assert checks.loc["share_at_ceiling", "observed"] == pytest.approx(0.25, abs=0.01)
    assert checks.loc["share_at_ceiling", "p_value"] < 0.05
    assert checks.loc["lag1_autocorr", "p_value"] < 0.05
    # censoring at the ceiling reproduces the bunching
    censored = md.stats.fit_alliance_model(
        cube, bunched, ceiling={"bond": top}, likelihood="student_t", **kwargs
    )
    assert censored.data.attrs["n_at_ceiling"] == "bond=45"
    checks = censored.posterior_predictive(seed=2).loc["bond"]
    assert 0.05 < checks.loc["share_at_ceiling", "p_value"] < 0.95
    assert "nu" in censored.datatree["posterior"]
    assert np.isfinite(censored.summary().loc["beta[within, IM, bond]", "partial_r"])


def test_numpyro_needs_its_package():
    import importlib.util

    cube, alliance = _data()
    if importlib.util.find_spec("numpyro") is None:
        with pytest.raises(ImportError, match="pip install numpyro"):
            md.stats.fit_alliance_model(cube, alliance, sampler="numpyro")
    with pytest.raises(ValueError, match="'sampler' parameter"):
        md.stats.fit_alliance_model(cube, alliance, sampler="stan")


@pytest.mark.slow
def test_group_models_reuse_their_compiled_nutpie_model(small_study):
    """A second study of the same shape swaps data into the cached model: same draws."""
    from mne_dyad.stats import _sampling

    other = md.simulation.simulate_study(
        n_dyads=6, n_sessions=3, n_usable=15, duration=600.0, seed=8, verbose=False
    )
    cubes = [md.synchrony_cube(s, verbose=False) for s in (small_study, other)]
    kw = dict(draws=200, tune=200, seed=3, verbose="error")
    _sampling._NUTPIE_CACHE.clear()
    md.stats.variance_decomposition(cubes[0], **kw)
    md.stats.test_above_chance(small_study, n_surrogates=5, **kw)
    # keys: (the builder's structure key, the model's variables)
    assert {k[0][0] for k in _sampling._NUTPIE_CACHE} == {"variance", "chance"}
    cached = (
        md.stats.variance_decomposition(cubes[1], **kw),
        md.stats.test_above_chance(other, n_surrogates=5, **kw),
    )
    assert len(_sampling._NUTPIE_CACHE) == 2  # reused, not recompiled
    _sampling._NUTPIE_CACHE.clear()
    fresh = (
        md.stats.variance_decomposition(cubes[1], **kw),
        md.stats.test_above_chance(other, n_surrogates=5, **kw),
    )
    xr.testing.assert_equal(cached[0].posterior.icc_dyad, fresh[0].posterior.icc_dyad)
    np.testing.assert_array_equal(cached[1].delta_mean, fresh[1].delta_mean)
    # the data did change: the other study has its own estimates
    first = md.stats.variance_decomposition(cubes[0], **kw)
    assert not np.allclose(first.posterior.icc_dyad, fresh[0].posterior.icc_dyad)
    # without sampling error: a model of other variables (its own key), per cube
    plain = [md.stats.variance_decomposition(c, measurement_error=False, **kw) for c in cubes]
    assert not np.allclose(plain[0].posterior.icc_dyad, plain[1].posterior.icc_dyad)


def _noisy_cube(tau, sigma, se, n_dyads=30, n_sessions=5, seed=0):
    """Observed = true + N(0, se^2), with the true SD of dyads tau and of sessions sigma."""
    rng = np.random.default_rng(seed)
    true = rng.normal(0, tau, (n_dyads, 1, 1)) + rng.normal(0, sigma, (n_dyads, n_sessions, 1))
    ses = se * rng.uniform(0.7, 1.3, true.shape)
    dims = ("dyad", "session", "segment")
    return xr.Dataset(
        {
            "all_lags": (dims, true + ses * rng.standard_normal(true.shape)),
            "all_lags_se": (dims, ses),
        },
        coords={"dyad": [f"D{i}" for i in range(n_dyads)], "session": np.arange(n_sessions)}
        | {"segment": ["IM"]},
    )


@pytest.mark.filterwarnings("ignore:The variance decomposition's sampler reports")
def test_sampling_error_is_not_counted_as_session_variance():
    """All true variance between dyads; sampling error is 40% of the observed variance."""
    cube = _noisy_cube(tau=1.0, sigma=0.0, se=np.sqrt(2 / 3))
    kw = dict(draws=300, tune=300, chains=2, sampler="pymc", seed=3, ci_prob=0.89)
    corrected = md.stats.variance_table(md.stats.variance_decomposition(cube, **kw)).loc["IM"]
    naive = md.stats.variance_table(
        md.stats.variance_decomposition(cube, measurement_error=False, **kw)
    ).loc["IM"]
    # the true session share is 0: corrected, its interval reaches below 0.2 ...
    assert corrected.loc["session_share", "ci_lower"] < 0.05
    assert corrected.loc["session_share", "ci_upper"] < 0.2
    assert corrected.loc["icc_dyad", "mean"] > 0.85
    # ... while ignoring sampling error puts it in the session share (about 0.4)
    assert naive.loc["session_share", "ci_lower"] > 0.25
    assert "error_share" not in naive.index
    # the error share is the sampling error's part of the observed variance
    assert corrected.loc["error_share", "mean"] == pytest.approx(0.4, abs=0.1)
    np.testing.assert_allclose(
        corrected.loc["session_share_observed", "mean"],
        naive.loc["session_share", "mean"],
        atol=0.1,
    )
    with pytest.raises(ValueError, match="needs the standard error of each value"):
        md.stats.variance_decomposition(cube.drop_vars("all_lags_se"), **kw)


def test_covariates_are_split_within_and_between_and_estimated():
    """A covariate that moves bond within dyads gets its delta; synchrony keeps its beta."""
    cube, alliance = md.simulation.simulate_model_data(
        n_dyads=20, n_sessions=5, betas={("within", "IM", "bond"): 0.5}, seed=4
    )
    rng = np.random.default_rng(11)
    arousal = xr.DataArray(
        rng.normal(0, 1, cube.all_lags.shape), dims=cube.all_lags.dims, coords=cube.all_lags.coords
    )
    cube["client_scr_rate"] = arousal
    within = arousal.sel(segment="IM") - arousal.sel(segment="IM").mean("session")
    alliance = alliance.copy()
    alliance["bond"] = alliance["bond"] + 1.0 * within * alliance["bond"].std()
    data = _prepare_alliance_data(cube, alliance, covariates=("client_scr_rate",))
    assert data["C"].dims == ("obs", "level", "covariate", "segment")
    # the within part sums to 0 in each dyad
    np.testing.assert_allclose(
        data["C"]
        .sel(level="within", covariate="client_scr_rate", segment="IM")
        .groupby(data.obs_dyad)
        .sum()
        .values,
        0,
        atol=1e-12,
    )
    fit = md.stats.fit_alliance_model(
        cube,
        alliance,
        covariates=("client_scr_rate",),
        draws=250,
        tune=250,
        chains=1,
        sampler="pymc",
        seed=2,
        verbose="error",
    )
    table = fit.summary()
    row = table.loc["delta[within, client_scr_rate, IM, bond]"]
    assert row.ci_lower > 0.2  # the covariate's own effect is found
    assert abs(table.loc["delta[within, client_scr_rate, CB, bond]", "mean"]) < 0.3
    assert table.loc["beta[within, IM, bond]", "ci_lower"] > 0  # 0.5 on its own scale
    assert fit.params["covariates"] == ["client_scr_rate"]
    with pytest.raises(ValueError, match="has no covariate 'therapist_tonic'"):
        _prepare_alliance_data(cube, alliance, covariates=("therapist_tonic",))
    with pytest.raises(ValueError, match="must be distinct and not the summary"):
        _prepare_alliance_data(cube, alliance, covariates=("all_lags",))
    cube["flat"] = xr.full_like(cube.all_lags, 1.0)
    with pytest.raises(ValueError, match="does not vary across sessions"):
        _prepare_alliance_data(cube, alliance, covariates=("flat",))


def test_noise_floor_decomposes_one_surrogate_per_cell(small_study, small_cube):
    comparison = md.surrogates.compare_with_surrogates(
        small_study, kind="circular_shift", n_surrogates=4, seed=1, summary=["all_lags", "peak"]
    )
    kw = dict(draws=100, tune=100, chains=1, sampler="pymc", seed=2, verbose="error")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short chains
        floor = md.stats.variance_decomposition(comparison, summary="peak", **kw)
    observed = floor["observed_data"]["y"].values
    first = comparison.surrogates.sel(summary="peak").isel(surrogate=0).values
    # the data are the first surrogate of every cell, standardised per segment
    assert observed.size == np.isfinite(first).sum()
    table = md.stats.variance_table(floor)
    assert set(table.loc["IM"].index) == {"icc_dyad", "session_share"}  # no sampling error
    assert json.loads(floor["summary"].attrs["mne_dyad_params"])["measurement_error"] is False
    with pytest.raises(ValueError, match="has no surrogates of 'lag0'"):
        md.stats.variance_decomposition(comparison, summary="lag0", **kw)


def test_pooled_se_recovers_the_size_law_and_keeps_the_mean_square():
    from mne_dyad.stats._measurement import _pooled_se

    rng = np.random.default_rng(0)
    n = rng.integers(15, 90, 400).astype(float)
    groups = np.repeat([0, 1], 200)
    # group 0: se^2 = 0.04 / n with chi-square noise of 20 dof; group 1: no size law
    noise = rng.chisquare(20, 400) / 20
    se = np.sqrt(np.where(groups == 0, 0.04 / n, 0.001) * noise)
    pooled, slopes = _pooled_se(se, n, groups)
    assert slopes[0] == pytest.approx(-1.0, abs=0.15)
    assert abs(slopes[1]) < 0.15
    for g in (0, 1):
        m = groups == g
        assert np.mean(pooled[m] ** 2) == pytest.approx(np.mean(se[m] ** 2))
    # the pooled SEs follow the size law, not the noise
    truth = np.sqrt(0.04 / n[groups == 0])
    assert np.abs(pooled[groups == 0] / truth - 1).max() < 0.15
    assert np.abs(se[groups == 0] / truth - 1).max() > 0.3
    # equal sizes: one SE for all, the root mean square
    flat, b = _pooled_se(se[:10], np.full(10, 30.0), np.zeros(10, int))
    assert b == {0: 0.0}
    np.testing.assert_allclose(flat, np.sqrt(np.mean(se[:10] ** 2)))


@pytest.mark.filterwarnings("ignore:The variance decomposition's sampler reports")
def test_noisy_standard_errors_taken_as_known_inflate_the_session_share():
    """No session variance; each cell's SE is an estimate from its windows (10 dof).

    Taken as known (``se_model="cell"``), the noisy SEs push the session share up;
    pooled by cell size they do not.
    """
    rng = np.random.default_rng(4)
    n_dyads, n_sessions = 40, 5
    shape = (n_dyads, n_sessions, 1)
    n = rng.integers(15, 60, shape).astype(float)
    true_se = np.sqrt(0.6 / n) * 4  # error share about 0.6 of the observed variance
    true = rng.normal(0, 0.5, (n_dyads, 1, 1)) + np.zeros(shape)
    se = true_se * np.sqrt(rng.chisquare(10, shape) / 10)
    dims = ("dyad", "session", "segment")
    cube = xr.Dataset(
        {
            "all_lags": (dims, true + true_se * rng.standard_normal(shape)),
            "all_lags_se": (dims, se),
            "n_windows": (dims, n),
        },
        coords={"dyad": [f"D{i}" for i in range(n_dyads)], "session": np.arange(n_sessions)}
        | {"segment": ["IM"]},
    )
    kw = dict(draws=300, tune=300, chains=2, sampler="pymc", seed=3)
    pooled = md.stats.variance_table(md.stats.variance_decomposition(cube, **kw)).loc["IM"]
    cell = md.stats.variance_table(
        md.stats.variance_decomposition(cube, se_model="cell", **kw)
    ).loc["IM"]
    assert pooled.loc["session_share", "ci_lower"] < 0.05
    assert pooled.loc["session_share", "mean"] < 0.25
    assert cell.loc["session_share", "mean"] > pooled.loc["session_share", "mean"] + 0.1
    with pytest.raises(ValueError, match="se_model"):
        md.stats.variance_decomposition(cube, se_model="known", **kw)


def _lag_data(n_dyads=6, n_sessions=5, seed=0):
    cube, alliance = md.simulation.simulate_model_data(
        n_dyads=n_dyads, n_sessions=n_sessions, seed=seed
    )
    return cube, alliance


def test_lag_pairs_each_session_with_the_next():
    cube, alliance = _lag_data()
    for scale in ("bond", "task", "goal"):  # D03 is not rated in session 3: 2->3, 3->4 go
        alliance[scale][2, 2] = np.nan
    cube["all_lags"][4, 3, :] = np.nan  # D05 lacks synchrony in 4: 4->5 goes, 3->4 stays
    with mne.utils.use_log_level("info"), mne.utils.catch_logging() as log:
        data = _prepare_alliance_data(cube, alliance, lag=1)
    assert "1 pair(s) of rated sessions are not consecutive and are skipped (D03: 2 -> 4)" in (
        log.getvalue()
    )
    # 6 dyads x 4 pairs, minus D03's pairs (2, 3) and (3, 4) and D05's (4, 5)
    assert data.sizes["obs"] == 21 and data.attrs["lag"] == 1
    pred = data.obs_predictor_session.values
    np.testing.assert_array_equal(data.obs_session.values, pred + 1)
    row = int(np.flatnonzero((data.obs_dyad.values == "D01") & (pred == 2))[0])
    y_next = float(alliance.bond.sel(dyad="D01", session=3))
    y_now = alliance.bond.sel(dyad="D01", session=[1, 2, 3, 4]).values
    y_mean, y_sd = float(data.y_mean[0]), float(data.y_sd[0])
    assert float(data.y.sel(outcome="bond")[row]) * y_sd + y_mean == pytest.approx(y_next)
    assert float(data.y_lag.sel(outcome="bond")[row]) == pytest.approx((y_now[1] - y_mean) / y_sd)
    # the predictor is session 2's synchrony
    x = float(cube.all_lags.sel(dyad="D01", session=2, segment="IM"))
    assert float(data.P.sel(segment="IM")[row]) == pytest.approx(
        (x - float(data.x_mean[0])) / float(data.x_sd[0])
    )
    with pytest.raises(ValueError, match=r"not consecutive \(D03: 2 -> 4\)"):
        _prepare_alliance_data(cube, alliance, lag=1, gaps="raise")
    model = _build_alliance_model(data)
    assert model.named_vars_to_dims["phi"] == ("outcome",)


def test_reverse_direction_swaps_predictors_and_outcomes():
    from mne_dyad.stats._models import _swap_roles

    cube, alliance = _lag_data()
    rcube, ralliance = _swap_roles(cube, alliance, "all_lags", ("IM", "CB"), ("bond", "task"))
    data = _prepare_alliance_data(
        rcube,
        ralliance,
        summary="alliance",
        segments=("bond", "task"),
        outcomes=("IM", "CB"),
        lag=1,
    )
    assert list(data.segment.values) == ["bond", "task"]
    assert list(data.outcome.values) == ["IM", "CB"]
    row = int(np.flatnonzero((data.obs_dyad.values == "D03") & (data.obs_session == 4))[0])
    im_next = float(cube.all_lags.sel(dyad="D03", session=4, segment="IM"))
    assert float(data.y.sel(outcome="IM")[row] * data.y_sd[0] + data.y_mean[0]) == (
        pytest.approx(im_next)
    )
    bond_now = float(alliance.bond.sel(dyad="D03", session=3))
    assert float(data.P.sel(segment="bond")[row] * data.x_sd[0] + data.x_mean[0]) == (
        pytest.approx(bond_now)
    )
    for kwargs, match in (
        ({"direction": "alliance_to_synchrony"}, "pass lag=1"),
        ({"lag": 2}, "lag must be 0 or 1"),
        ({"lag": 1, "direction": "backward"}, "'direction' parameter"),
        (
            {"lag": 1, "direction": "alliance_to_synchrony", "measurement_error": True},
            r"does not take \['measurement_error'\]",
        ),
    ):
        with pytest.raises(ValueError, match=match):
            md.stats.fit_alliance_model(cube, alliance, **kwargs)


def _lagged_study(direction, n_dyads=60, n_sessions=6, seed=11):
    """Synchrony and bond with a lag-1 effect of 0.5 in one direction (raw units)."""
    rng = np.random.default_rng(seed)
    sync_dev = rng.normal(size=(n_dyads, n_sessions, 2))  # sessions around the dyad level
    bond_dev = 0.7 * rng.normal(size=(n_dyads, n_sessions))
    if direction == "forward":  # IM synchrony in s -> bond in s + 1
        bond_dev[:, 1:] += 0.5 * sync_dev[:, :-1, 0]
    else:  # bond in s -> IM synchrony in s + 1
        sync_dev[:, 1:, 0] += 0.5 * bond_dev[:, :-1]
    sync = 0.5 * rng.normal(size=(n_dyads, 1, 2)) + sync_dev
    bond = rng.normal(size=(n_dyads, 1)) + bond_dev
    coords = {"dyad": [f"D{i:02d}" for i in range(n_dyads)], "session": list(range(1, 7))}
    cube = xr.Dataset(
        {"all_lags": (("dyad", "session", "segment"), sync)},
        coords={**coords, "segment": ["IM", "CB"]},
    )
    return cube, xr.Dataset({"bond": (("dyad", "session"), bond)}, coords=coords)


@pytest.mark.slow
@pytest.mark.calibration
@pytest.mark.heavy
def test_lagged_models_find_a_lagged_effect_in_its_direction():
    """Each lagged direction finds its own effect; the same-session model does not."""
    kwargs = dict(outcomes=("bond",), draws=300, tune=300, seed=2, verbose="error")
    kwargs.update(FIXED_0_1)  # the lagged studies have one slope for all dyads
    reverse = dict(lag=1, direction="alliance_to_synchrony")
    cube, alliance = _lagged_study("forward")
    forward = md.stats.fit_alliance_model(cube, alliance, lag=1, **kwargs).summary()
    same = md.stats.fit_alliance_model(cube, alliance, **kwargs).summary()
    wrong_way = md.stats.fit_alliance_model(cube, alliance, **reverse, **kwargs).summary()
    target = "beta[within, IM, bond]"
    assert forward.loc[target, "ci_lower"] > 0.15
    assert abs(same.loc[target, "mean"]) < 0.1
    # with 5 transitions per dyad the reverse model is biased by the feedback (methods
    # page): negative, and well short of the forward effect
    back = wrong_way.loc["beta[within, bond, IM]", "mean"]
    assert -0.35 < back < 0.05 and abs(back) < forward.loc[target, "mean"] - 0.1
    cube, alliance = _lagged_study("reverse")
    found = md.stats.fit_alliance_model(cube, alliance, **reverse, **kwargs).summary()
    assert found.loc["beta[within, bond, IM]", "ci_lower"] > 0.15


@pytest.fixture(scope="module")
def kfold_study():
    return md.simulation.simulate_model_data(
        n_dyads=16, n_sessions=5, outcomes=("bond",), betas=TRUTH, seed=7
    )


@pytest.mark.slow
@pytest.mark.parametrize("centering", ["observed", "latent"])
def test_new_dyad_predictions_integrate_the_dyad_effect(kfold_study, centering):
    """The held-out density equals the analytic marginal over the dyad effect; with
    latent centring the held-out dyad's within and between parts are their expectations
    given its own synchrony under each draw of the synchrony hyperparameters."""
    from scipy.special import logsumexp
    from scipy.stats import multivariate_normal

    from mne_dyad.stats._results import _dyad_subset, _held_out_loglik

    cube, alliance = kfold_study
    fit = md.stats.fit_alliance_model(
        cube,
        alliance,
        outcomes=("bond",),
        # the analytic marginal below: intercepts only, a linear session term
        **{**FIXED_0_1, "centering": centering},
        draws=200,
        tune=300,
        seed=3,
        verbose="error",
    )
    d = fit.data
    test_data = _dyad_subset(d, d.dyad_idx.values == 0)
    post = fit.datatree["posterior"].to_dataset()
    ll = _held_out_loglik(post, test_data, fit._options(), 300, np.random.default_rng(0))
    assert ll.sizes["draw"] == 200 * 300 and ll.sizes["obs"] == 5
    joint = ll.sum("obs").values.ravel()
    mc = logsumexp(joint) - np.log(joint.size)
    # analytic: y ~ N(mu, sigma_e^2 I + sigma_u^2 11') for each posterior draw
    y = test_data.y.values[:, 0]
    P = test_data.P.values  # (5 sessions, segment), all observed
    draws = post.stack(sample=("chain", "draw"))
    exact = []
    for i in range(draws.sizes["sample"]):
        at = draws.isel(sample=i)
        if centering == "latent":  # E[m | P] - mu_P = lambda (mean - mu_P), lambda its reliability
            t2, v = at.tau_P.values**2, at.sigma_P_within.values**2
            lam = t2 * (P.shape[0] / v) / (1 + t2 * (P.shape[0] / v))
            between = lam * (P.mean(0) - at.mu_P.values)
            X = np.stack([P - at.mu_P.values - between, np.broadcast_to(between, P.shape)], 1)
        else:
            X = test_data.X.values
        mu = float(at.alpha[0]) + (X * at.beta.values[None, :, :, 0]).sum((1, 2))
        mu = mu + float(at.gamma[0]) * test_data.session_c.values
        su, se = float(at.sigma_dyad[0]), float(at.sigma_resid[0])
        cov = se**2 * np.eye(y.size) + su**2
        exact.append(multivariate_normal(mu, cov).logpdf(y))
    analytic = logsumexp(exact) - np.log(len(exact))
    assert mc == pytest.approx(analytic, abs=0.05)


@pytest.mark.slow
@pytest.mark.heavy
def test_kfold_and_prior_sensitivity(kfold_study):
    cube, alliance = kfold_study
    kwargs = dict(outcomes=("bond",), draws=200, tune=200, seed=3, verbose="error")
    # the default random slopes: their new dyads' slopes are drawn too (a KeyError once)
    fit = md.stats.fit_alliance_model(cube, alliance, **kwargs)
    # session_covariate="auto" with 5 session numbers: a spline, stored for refits
    assert fit.params["session_covariate"] == fit.data.attrs["session_covariate"] == "spline"
    assert fit._options()["session_covariate"] == "spline"
    slopes = fit.kfold(k=2, seed=1)
    assert slopes.shape == (16, 3) and np.isfinite(slopes.elpd).all()
    kwargs.update(FIXED_0_1)  # the known answers below: the study's own form
    both = md.stats.fit_alliance_model(cube, alliance, **kwargs)
    cb = md.stats.fit_alliance_model(cube, alliance, segments=("CB",), **kwargs)
    folds = both.kfold(k=3, seed=1)
    assert folds.shape == (16, 3) and sorted(folds.fold.unique()) == [0, 1, 2]
    assert folds.attrs["elpd"] == pytest.approx(folds.elpd.sum())
    assert folds.n_sessions.sum() == both.data.sizes["obs"]
    table = both.compare(cb, names=["IM+CB", "CB"], method="kfold", k=3, seed=1)
    assert list(table.index) == ["IM+CB", "CB"]  # the model with the true effect
    assert table.loc["IM+CB", "elpd"] == pytest.approx(folds.attrs["elpd"])
    # known answer: the difference and its SE from the per-dyad held-out scores (how
    # far from 0 it is depends on this small study and the releases' samplers, so it is
    # not asserted; 2.0 with SE 2.1 on 2026-12-01's releases)
    diff = folds.elpd - cb.kfold(k=3, seed=1).elpd
    assert table.loc["CB", "elpd_diff"] == pytest.approx(diff.sum()) and diff.sum() > 0
    assert table.loc["CB", "dse"] == pytest.approx(np.sqrt(16 * diff.var(ddof=1)))
    with pytest.raises(ValueError, match="k must be an integer from 2 to 16"):
        both.kfold(k=1)
    sens = both.prior_sensitivity(factors=(0.05, 2.0))
    row = sens.loc["beta[within, IM, bond]"]
    # a prior 20 times tighter pulls the effect toward 0; a wider one barely moves it
    assert row["shift_x0.05"] < -1.0 and abs(row["shift_x2"]) < 0.5
    assert row["max_shift"] == pytest.approx(abs(row["shift_x0.05"]))
    assert sens.attrs["priors"]["x2"]["beta"] == 2.0
    assert sens.attrs["priors"]["x2"]["lkj_eta"] == 2.0


def test_raters_are_chosen_or_modelled_jointly():
    import xarray as xr

    from mne_dyad.stats._models import _select_raters

    cube, alliance = _data()
    shifted = alliance + 0.5
    rated = xr.concat([alliance, shifted], dim=pd.Index(["client", "therapist"], name="rater"))
    with pytest.raises(ValueError, match=r"raters \['client', 'therapist'\]: pass rater="):
        _select_raters(rated, None, ("bond", "task"))
    one, outcomes = _select_raters(rated, "therapist", ("bond", "task"))
    xr.testing.assert_equal(one.bond, shifted.bond)
    assert outcomes == ("bond", "task")
    joint, outcomes = _select_raters(rated, "all", ("bond", "task"))
    assert outcomes == ("bond (client)", "task (client)", "bond (therapist)", "task (therapist)")
    data = _prepare_alliance_data(cube, joint, outcomes=outcomes)
    assert list(data.outcome.values) == list(outcomes)
    model = _build_alliance_model(data)
    assert model["chol_resid_corr"].eval().shape == (4, 4)  # residuals over rater x scale
    with pytest.raises(ValueError, match=r"rater \['family'\] is not among"):
        _select_raters(rated, ["client", "family"], ("bond",))
    with pytest.raises(ValueError, match="needs alliance data with a 'rater' dimension"):
        _select_raters(alliance, "client", ("bond",))


def _partly_rated():
    cube, alliance = _data()
    alliance["task"][1, 2] = np.nan  # D02 session 3: bond and goal only
    alliance["goal"][1, 2] = np.nan  # ... and then bond only
    alliance["bond"][4, 0] = np.nan  # D05 session 1: task and goal
    alliance["task"][6, 3] = np.nan  # D07 session 4: bond and goal
    return cube, alliance


@pytest.mark.parametrize("likelihood", ["normal", "student_t"])
def test_partly_rated_sessions_keep_their_marginal_density(likelihood):
    import pymc as pm
    from scipy.stats import multivariate_normal, multivariate_t

    cube, alliance = _partly_rated()
    with mne.utils.use_log_level("info"), mne.utils.catch_logging() as log:
        data = _prepare_alliance_data(cube, alliance)
    assert data.sizes["obs"] == 32 and int(np.isnan(data.y).sum()) == 4
    assert "3 kept with only some of the scales" in log.getvalue()
    model = _build_alliance_model(data, likelihood=likelihood)
    point = model.initial_point()
    rng = np.random.default_rng(0)
    point = {k: v + rng.normal(0, 0.3, np.shape(v)) for k, v in point.items()}
    logp = model.compile_logp(vars=[model["y"]], sum=False, mode="FAST_COMPILE")(point)[0]
    names = ["chol_resid_corr", "chol_resid_stds", "alpha", "beta", "gamma", "u_dyad"] + (
        ["nu"] if likelihood == "student_t" else []
    )
    outputs = model.replace_rvs_by_values([model[n] for n in names])
    fn = pm.pytensorf.compile(
        model.value_vars, outputs, on_unused_input="ignore", mode="FAST_COMPILE"
    )
    corr, sds, alpha, beta, gamma, u, *nu = fn(*[point[v.name] for v in model.value_vars])
    sigma = corr * np.outer(sds, sds)
    X, y = data.X.values, data.y.values
    mu = alpha + np.einsum("olg,lgk->ok", X, beta) + data.session_c.values[:, None] * gamma
    mu = mu + u[data.dyad_idx.values]
    for i in range(data.sizes["obs"]):
        o = np.flatnonzero(np.isfinite(y[i]))
        sub = sigma[np.ix_(o, o)]
        if nu:
            expected = multivariate_t(mu[i, o], sub, df=float(nu[0])).logpdf(y[i, o])
        else:
            expected = multivariate_normal(mu[i, o], sub).logpdf(y[i, o])
        assert logp[i] == pytest.approx(expected, rel=1e-6), i
    # the compiled model is reused only for the same pattern of missing scales
    from mne_dyad.stats._alliance_graph import _cache_key

    options = {
        "multivariate": True,
        "random_slopes": False,
        "session_covariate": "linear",
        "dyad_trends": False,
        "likelihood": likelihood,
        "priors": {"beta": 1.0},
    }
    other = data.copy(deep=True)
    other["y"][0, 0] = np.nan  # one more unrated scale, same sizes
    assert _cache_key(data, options) != _cache_key(other, options)
    same = data.copy(deep=True)
    same["y"] = same.y + 1.0  # new values, same pattern: the data are swapped in
    assert _cache_key(data, options) == _cache_key(same, options)
    # univariate: the same marginal, with independent outcomes
    uni = _build_alliance_model(data, multivariate=False)
    assert uni["y"].owner is not None and "sigma_resid" in uni.named_vars
    uni.compile_logp()(uni.initial_point())


@pytest.mark.slow
@pytest.mark.heavy
def test_partly_rated_sessions_are_fitted_checked_and_compared():
    """A third of the task and goal ratings missing: every session still counts."""
    cube, alliance = md.simulation.simulate_model_data(
        n_dyads=24, n_sessions=5, betas=TRUTH, seed=8
    )
    rng = np.random.default_rng(8)
    for scale in ("task", "goal"):
        alliance[scale] = alliance[scale].where(rng.random(alliance[scale].shape) > 1 / 3)
    kwargs = dict(
        standardize=False,
        session_covariate=False,
        random_slopes=False,
        detrend=False,
        draws=300,
        tune=300,
        seed=2,
        verbose="error",
    )
    fit = md.stats.fit_alliance_model(cube, alliance, **kwargs)
    assert fit.data.sizes["obs"] == 120  # dropped before: about 55
    assert fit.diagnostics["divergences"] == 0
    row = fit.summary().loc["beta[within, IM, bond]"]
    assert row["ci_lower"] < TRUTH[("within", "IM", "bond")] < row["ci_upper"]
    observed = fit.datatree["observed_data"]["y"]
    assert int(np.isnan(observed).sum()) == int(np.isnan(fit.data.y).sum()) > 0
    checks = fit.posterior_predictive(seed=1)
    assert np.isfinite(checks["p_value"]).all()
    assert checks.loc[("task", "mean"), "lower"] < checks.loc[("task", "mean"), "observed"]
    uni = md.stats.fit_alliance_model(cube, alliance, multivariate=False, **kwargs)
    table = fit.compare(uni, names=["joint", "independent"])
    assert set(table.index) == {"joint", "independent"}


def test_slope_blocks_keep_the_lkj_prior():
    """The random-slopes blocks, sampled through the correlations' Cholesky factor and
    the SDs, have the LKJ(2) and half-normal(1) prior: a correlation's variance is
    1/(2a + 1) with a = eta - 1 + n/2 (1/6 for n = 3), the SDs' mean sqrt(2/pi)."""
    import pymc as pm

    from mne_dyad.stats._alliance_graph import _lkj_corr_sds

    with pm.Model() as model:
        _lkj_corr_sds(pm, "c", 3, {"lkj_eta": 2.0, "sigma": 1.0})
    assert "c_cholcorr" in model.named_vars
    with model:
        tree = pm.sample(
            draws=3000,
            tune=1000,
            chains=2,
            random_seed=1,
            progressbar=False,
            nuts_sampler="pymc",
            compute_convergence_checks=False,
        )
    corr = tree.posterior["c_corr"].values.reshape(-1, 3, 3)
    for i, j in ((0, 1), (0, 2), (1, 2)):
        assert corr[:, i, j].var() == pytest.approx(1 / 6, abs=0.03)
    sds = tree.posterior["c_stds"].values
    assert sds.mean() == pytest.approx(np.sqrt(2 / np.pi), abs=0.05)


def test_batched_slope_blocks_are_independent_lkj_blocks():
    """The outcomes' blocks share one batched graph: its density is that of one LKJ
    block per outcome, and each dyad's effects are its block's z @ chol.T."""
    import pymc as pm

    from mne_dyad.stats._alliance_graph import _lkj_corr_sds

    priors = {"lkj_eta": 2.0, "sigma": 1.0}
    with pm.Model() as batched:
        _lkj_corr_sds(pm, "c", 3, priors, size=3)
    with pm.Model() as single:
        for k in range(3):
            _lkj_corr_sds(pm, f"c{k}", 3, priors)
    rng = np.random.default_rng(5)
    x = {name: rng.normal(size=v.shape) for name, v in batched.initial_point().items()}
    y = {}
    for k in range(3):
        y[f"c{k}_cholcorr_corrcholesky__"] = x["c_cholcorr_corrcholesky__"][k]
        y[f"c{k}_stds_log__"] = x["c_stds_log__"][k]
    fast = {"mode": "FAST_COMPILE"}  # nothing to compile to C: a test of values
    assert batched.compile_logp(**fast)(x) == pytest.approx(
        single.compile_logp(**fast)(y), rel=1e-12
    )

    def values(model, names):  # the variables as functions of a point's values
        outs = model.replace_rvs_by_values([model[n] for n in names])
        return model.compile_fn(outs, inputs=model.value_vars, on_unused_input="ignore", **fast)

    chol = values(batched, ["c"])(x)[0]
    for k in range(3):
        np.testing.assert_allclose(chol[k], values(single, [f"c{k}"])(y)[0], rtol=1e-12)
        assert np.allclose(np.triu(chol[k], 1), 0) and (np.diag(chol[k]) > 0).all()

    _, model = _model(random_slopes=True)
    point = {name: rng.normal(size=np.shape(v)) for name, v in model.initial_point().items()}
    z, chol, u, slope = values(model, ["z_dyad", "chol_dyad_block", "u_dyad", "slope_dyad"])(point)
    n_out, per = chol.shape[:2]
    blocks = z.reshape(len(z), n_out, per)
    effects = np.stack([blocks[:, k] @ chol[k].T for k in range(n_out)], axis=1)
    np.testing.assert_allclose(u, effects[:, :, 0], rtol=1e-12)
    np.testing.assert_allclose(slope, effects[:, :, 1:].transpose(0, 2, 1), rtol=1e-12)


def _exact_dyad_terms(p, se2, mu, tau, sigma, off=None, big=1e4):
    """A dyad's exact log density, E[m | p] and E[w | p] (scipy, full covariance).

    ``p ~ N(mu 1, tau^2 11' + diag(sigma^2 + se2))``, plus ``big^2 off off'`` for a
    trend with a flat prior (the limit of a wide normal one; ``+ log big`` keeps the
    density's limit). ``E[m | p] = mu + tau^2 1' C^-1 (p - mu)`` and ``E[w | p] =
    sigma^2 C^-1 (p - mu)``, as ``Cov(m, p) = tau^2 1'`` and ``Cov(w, p) = sigma^2 I``.
    """
    from scipy.stats import multivariate_normal

    cov = tau**2 * np.ones((p.size, p.size)) + np.diag(sigma**2 + se2)
    extra = 0.0
    if off is not None:
        cov = cov + big**2 * np.outer(off, off)
        extra = np.log(big)
    weights = np.linalg.solve(cov, p - mu)
    logp = multivariate_normal(np.full(p.size, mu), cov).logpdf(p) + extra
    return logp, mu + tau**2 * weights.sum(), sigma**2 * weights


@pytest.mark.parametrize("case", ["plain", "missing_and_se", "detrend", "detrend_missing_se"])
def test_latent_centring_integrates_the_dyad_means_exactly(case):
    """The latent-centring potential is the exact marginal likelihood of synchrony
    (differences between two parameter points, per dyad a multivariate normal; with
    detrending, each fitted dyad's trend integrated under a flat prior), the split is
    E[m | P] - mu_P and E[w | P] from the full covariance, and a missing value's
    within part is sigma_P_within * z_P_missing."""
    cube, alliance = md.simulation.simulate_model_data(n_dyads=6, n_sessions=5, seed=4)
    detrend = case.startswith("detrend")
    data = _prepare_alliance_data(
        cube, alliance, centering="latent", detrend=detrend, session_covariate=None
    )
    P = data["P"].values.copy()
    dyad = data.dyad_idx.values
    se = np.zeros(P.shape)
    if case in ("missing_and_se", "detrend_missing_se"):
        P[[0, 7, 8], 0] = np.nan
        P[dyad == 1, 1] = np.nan  # dyad 1 has no CB value at all
        P[np.flatnonzero(dyad == 2)[2:], 0] = np.nan  # dyad 2 keeps 2 IM values: no trend
        se = np.random.default_rng(0).uniform(0.05, 0.9, P.shape)  # unequal within dyads
        data = data.assign(
            P=(("obs", "segment"), P),
            P_se=(("obs", "segment"), np.where(np.isfinite(P), se, np.nan)),
        )
    import pymc as pm
    import pytensor.tensor as pt

    from mne_dyad.stats._alliance_graph import _check_priors, _latent_centred

    session = data.session_c.values
    coords = {k: data[k].values for k in ("obs", "segment", "dyad")}
    with pm.Model(coords=coords) as model:
        dyad_idx = pm.Data("dyad_idx", dyad, dims="obs")
        X = _latent_centred(
            pm, pt, data, _check_priors(None), dyad_idx, session if detrend else None
        )
    outs = model.replace_rvs_by_values([model["P_marginal"], model["P_dyad"], X])
    fn = model.compile_fn(outs, inputs=model.value_vars, on_unused_input="ignore")
    start = model.initial_point()
    missing = ~np.isfinite(P)
    results = []
    for mu, tau, sigma in [
        ((0.1, -0.2), (0.4, 0.2), (0.9, 1.1)),
        ((-0.3, 0.5), (1.3, 0.05), (0.6, 0.8)),
    ]:
        point = dict(start)
        point["mu_P"] = np.array(mu)
        point["tau_P_log__"] = np.log(tau)
        point["sigma_P_within_log__"] = np.log(sigma)
        if missing.any():
            point["z_P_missing"] = np.linspace(-1.5, 2.0, missing.sum())
        logp, p_dyad, X = fn(point)
        exact = 0.0
        expect = np.zeros(p_dyad.shape)
        expect_within = np.full(P.shape, np.nan)
        for d in range(data.sizes["dyad"]):
            for g in range(2):
                rows = (dyad == d) & np.isfinite(P[:, g])
                if not rows.any():
                    expect[d, g] = mu[g]
                    continue
                off = None
                if detrend and rows.sum() >= 3:
                    off = session[rows] - session[rows].mean()
                terms = _exact_dyad_terms(
                    P[rows, g], se[rows, g] ** 2, mu[g], tau[g], sigma[g], off
                )
                exact += terms[0]
                expect[d, g], expect_within[rows, g] = terms[1], terms[2]
        np.testing.assert_allclose(p_dyad, expect, rtol=1e-7, atol=1e-7)
        np.testing.assert_allclose(X[:, 1], (expect - np.array(mu))[dyad], atol=1e-7)
        np.testing.assert_allclose(X[:, 0][~missing], expect_within[~missing], atol=1e-7)
        if missing.any():  # missing values: their within part is a parameter
            miss_i, miss_g = np.nonzero(missing)
            np.testing.assert_allclose(
                X[miss_i, 0, miss_g], point["z_P_missing"] * np.array(sigma)[miss_g]
            )
        results.append((logp, exact))
    (a0, e0), (a1, e1) = results
    assert abs(e1 - e0) > 0.1  # the two points differ
    np.testing.assert_allclose(a1 - a0, e1 - e0, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("multivariate", [True, False])
def test_integrated_dyad_effects_are_the_exact_marginal(multivariate):
    """The integrated model's potential is the density of y with the dyad intercepts
    integrated out: per dyad a normal with covariance I x S_e + J x S_u (differences
    between two parameter points, checked against scipy)."""
    from scipy.stats import multivariate_normal

    cube, alliance = md.simulation.simulate_model_data(n_dyads=5, n_sessions=4, seed=2)
    data = _prepare_alliance_data(cube, alliance)
    model = _build_alliance_model(data, multivariate=multivariate, integrate_dyads=True)
    outs = model.replace_rvs_by_values(
        [
            model["y_integrated"],
            model["integrated_chol_dyad"],
            model["integrated_chol_resid"],
        ]
    )
    fn = model.compile_fn(outs, inputs=model.value_vars, on_unused_input="ignore")
    rng = np.random.default_rng(0)
    X, y = data.X.values, data.y.values
    dyad, session = data.dyad_idx.values, data.session_c.values
    results = []
    for _ in range(2):
        point = {k: v + rng.normal(0, 0.5, np.shape(v)) for k, v in model.initial_point().items()}
        logp, chol_u, chol_e = fn(point)
        beta = point["beta"]
        mu = point["alpha"] + np.einsum("olg,lgk->ok", X, beta) + session[:, None] * point["gamma"]
        cov_u, cov_e = chol_u @ chol_u.T, chol_e @ chol_e.T
        exact = 0.0
        for d in np.unique(dyad):
            r = (y - mu)[dyad == d].ravel()  # sessions x outcomes, row-major
            n = int((dyad == d).sum())
            cov = np.kron(np.eye(n), cov_e) + np.kron(np.ones((n, n)), cov_u)
            exact += multivariate_normal(np.zeros(r.size), cov).logpdf(r)
        results.append((logp, exact))
    (a0, e0), (a1, e1) = results
    assert abs(e1 - e0) > 1  # the two points differ
    np.testing.assert_allclose(a1 - a0, e1 - e0, rtol=1e-8, atol=1e-8)


def test_dyad_effects_are_drawn_from_their_conditional():
    """u | y, theta ~ N(V n S_e^-1 rbar, V), V = (S_u^-1 + n S_e^-1)^-1; z = L_u^-1 u."""
    from mne_dyad.stats._alliance_graph import _draw_dyad_effects

    chol_u = np.array([[0.8, 0.0], [0.3, 0.5]])
    chol_e = np.array([[1.0, 0.0], [-0.4, 0.7]])
    rbar = np.array([[0.5, -0.2], [1.5, 0.4]])
    counts = np.array([2, 6])
    n_draws = 40000
    posterior = xr.Dataset(
        {
            "integrated_resid_mean": (
                ("chain", "draw", "dyad", "outcome"),
                np.broadcast_to(rbar, (1, n_draws, 2, 2)),
            ),
            "integrated_chol_dyad": (
                ("chain", "draw", "a", "b"),
                np.broadcast_to(chol_u, (1, n_draws, 2, 2)),
            ),
            "integrated_chol_resid": (
                ("chain", "draw", "a", "b"),
                np.broadcast_to(chol_e, (1, n_draws, 2, 2)),
            ),
            "beta": (("chain", "draw"), np.zeros((1, n_draws))),
        }
    )
    out = _draw_dyad_effects(posterior, counts, seed=0)
    assert set(out.data_vars) == {"beta", "u_dyad", "z_dyad"}
    u = out.u_dyad.values[0]
    s_u, s_e = chol_u @ chol_u.T, chol_e @ chol_e.T
    for d, n in enumerate(counts):
        V = np.linalg.inv(np.linalg.inv(s_u) + n * np.linalg.inv(s_e))
        m = V @ (n * np.linalg.inv(s_e) @ rbar[d])
        np.testing.assert_allclose(
            u[:, d].mean(axis=0), m, atol=4 * np.sqrt(V.max() / n_draws) + 1e-3
        )
        np.testing.assert_allclose(np.cov(u[:, d].T), V, rtol=0.05, atol=0.002)
    np.testing.assert_allclose(out.z_dyad.values[0] @ chol_u.T, u, atol=1e-12)
    again = _draw_dyad_effects(posterior, counts, seed=0)
    np.testing.assert_array_equal(again.u_dyad.values, out.u_dyad.values)
    assert not [c for c in out.coords if str(c).startswith("integrated_")]
    # a dyad SD of exactly 0: that intercept is 0, the other is still drawn
    flat = posterior.assign(
        integrated_chol_dyad=posterior.integrated_chol_dyad * np.array([[0.0], [1.0]])
    )
    drawn = _draw_dyad_effects(flat, counts, seed=np.random.default_rng(1)).u_dyad.values
    assert np.all(drawn[..., 0] == 0) and np.isfinite(drawn).all() and drawn[..., 1].std() > 0.1


def test_large_models_integrate_the_dyad_intercepts(monkeypatch):
    """Above the low-rank limit (150 dimensions) a qualifying model is sampled with the
    dyad intercepts integrated out; smaller ones and random slopes keep the full form."""
    from mne_dyad.stats import _alliance_graph

    seen = {}

    def fake_sample(model, **kwargs):
        seen["names"] = set(model.named_vars)
        raise _Stop

    monkeypatch.setattr(_alliance_graph, "_sample", fake_sample)
    fixed = {"random_slopes": False}  # one within slope for all dyads
    for n_dyads, options, integrated in [
        (60, fixed, True),  # 60 x 3 intercepts: 180 + 30 dimensions
        (31, fixed, False),
        (60, {}, False),  # the default: random slopes
        (60, {**fixed, "likelihood": "student_t"}, False),
        (60, {**fixed, "therapist": "alternate"}, True),  # intercepts independent
    ]:
        cube, alliance = md.simulation.simulate_model_data(n_dyads=n_dyads, n_sessions=3, seed=0)
        if options.get("therapist") == "alternate":
            options = {
                **fixed,
                "therapist": dict(zip(cube.dyad.values, ["T0", "T1", "T2", "T3"] * 15)),
            }
        with pytest.raises(_Stop):
            md.stats.fit_alliance_model(cube, alliance, verbose="error", **options)
        assert ("y_integrated" in seen["names"]) is integrated
        assert ("z_dyad" in seen["names"]) is not integrated


class _Stop(Exception):
    pass


@pytest.mark.slow
def test_integrated_sampling_gives_the_full_posterior(monkeypatch):
    """Sampling with the intercepts integrated out and drawing them back gives the full
    model's posterior: betas, SDs and each dyad's intercept agree within Monte Carlo
    error, and the pointwise log-likelihood of y is there for LOO."""
    from mne_dyad.stats import _alliance_graph

    cube, alliance = md.simulation.simulate_model_data(n_dyads=20, n_sessions=5, seed=3)
    fits = {}
    for flag in ("always", False):
        monkeypatch.setattr(_alliance_graph, "_INTEGRATE_DYADS", flag)
        fits[flag] = md.stats.fit_alliance_model(
            cube, alliance, random_slopes=False, seed=1, draws=2000, verbose="error"
        )
    a = fits["always"].datatree["posterior"].to_dataset()
    b = fits[False].datatree["posterior"].to_dataset()
    assert "integrated" in a.attrs["mne_dyad_dyad_effects"]
    assert sorted(a.data_vars) == sorted(b.data_vars)
    for name in ("beta", "alpha", "chol_dyad_stds", "chol_resid_stds", "u_dyad"):
        sd = b[name].std(("chain", "draw")).values
        diff = np.abs(
            a[name].mean(("chain", "draw")).values - b[name].mean(("chain", "draw")).values
        )
        assert np.max(diff / sd) < 0.2, name
        ratio = a[name].std(("chain", "draw")).values / sd
        assert 0.85 < np.median(ratio) < 1.15, name
    ll = fits["always"].datatree["log_likelihood"]["y"]
    assert ll.shape == fits[False].datatree["log_likelihood"]["y"].shape
    assert abs(float(ll.mean()) - float(fits[False].datatree["log_likelihood"]["y"].mean())) < 0.05
    assert fits["always"].diagnostics["max_rhat"] < 1.01


def test_latent_centring_cache_keys():
    """Latent centring takes synchrony and its standard errors as data: new values
    share a compiled model, a model with standard errors does not share one without,
    and missing values (the graph's structure) key by their pattern."""
    from mne_dyad.stats._alliance_graph import _baked, _cache_key

    cube, alliance = md.simulation.simulate_model_data(n_dyads=6, n_sessions=4, seed=1)
    options = {
        "multivariate": True,
        "random_slopes": False,
        "session_covariate": "linear",
        "dyad_trends": False,
        "likelihood": "normal",
        "priors": {"beta": 1.0},
    }
    data = _prepare_alliance_data(cube, alliance, centering="latent")
    with_se = data.assign(P_se=data.P * 0 + 0.1)
    other_se = data.assign(P=data.P + 0.5, P_se=data.P * 0 + 0.3)
    assert not _baked(data) and not _baked(with_se)
    assert _baked(with_se.assign_attrs(centering="observed"))
    assert _cache_key(data, options) != _cache_key(with_se, options)
    assert _cache_key(with_se, options) == _cache_key(other_se, options)
    holes = data.copy(deep=True)
    holes["P"][0, 0] = np.nan
    assert _baked(holes) and _cache_key(holes, options) != _cache_key(data, options)
