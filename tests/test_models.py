import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import mne_dyad as md
from mne_dyad.stats._alliance_graph import _build_alliance_model
from mne_dyad.stats._models import _prepare_alliance_data


def _toy(n_dyads=5, n_sessions=4, seed=0):
    """A cube and alliance data with known values (no EDA needed)."""
    rng = np.random.default_rng(seed)
    dyads = [f"D{i}" for i in range(n_dyads)]
    sessions = list(range(1, n_sessions + 1))
    cube = xr.Dataset(
        {
            "all_lags": (
                ("dyad", "session", "segment"),
                rng.normal(0.4, 0.1, (n_dyads, n_sessions, 2)),
            )
        },
        coords={"dyad": dyads, "session": sessions, "segment": ["IM", "CB"]},
    )
    alliance = xr.Dataset(
        {
            o: (("dyad", "session"), rng.normal(5, 1, (n_dyads, n_sessions)))
            for o in ("bond", "task", "goal")
        },
        coords={"dyad": dyads, "session": sessions},
    )
    return cube, alliance


def test_within_between_known_answer():
    p = xr.DataArray([[1.0, 3.0, np.nan], [5.0, 7.0, 9.0]], dims=("dyad", "session"))
    w, b = md.stats.within_between(p)
    np.testing.assert_allclose(w.values, [[-1, 1, np.nan], [-2, 0, 2]])
    grand = (1 + 3 + 5 + 7 + 9) / 5
    np.testing.assert_allclose(b.values, [2 - grand, 7 - grand])
    with pytest.raises(ValueError, match="no dimension 'dyad'"):
        md.stats.within_between(p.rename(dyad="pair"))


def test_prepared_data_split_and_reversible_standardisation():
    cube, alliance = _toy()
    cube["all_lags"][0, 1, 0] = np.nan  # D0 session 2 lacks IM
    data = _prepare_alliance_data(cube, alliance)
    assert data.sizes["obs"] == 19 and list(data.level.values) == ["within", "between"]
    # standardisation is stored and reversible
    y = data.y * data.y_sd + data.y_mean
    for k in range(data.sizes["obs"]):
        d, s = data.obs_dyad.values[k], int(data.obs_session.values[k])
        orig = alliance[["bond", "task", "goal"]].sel(dyad=d, session=s)
        np.testing.assert_allclose(y[k].values, [float(orig[o]) for o in ("bond", "task", "goal")])
    np.testing.assert_allclose(data.y.mean("obs"), 0, atol=1e-12)
    np.testing.assert_allclose(data.y.std("obs", ddof=1), 1)
    # within part: zero mean per dyad; within + between + mean = standardised value
    X = data.X
    within = X.sel(level="within")
    for d in np.unique(data.dyad_idx):
        np.testing.assert_allclose(within[data.dyad_idx.values == d].mean("obs"), 0, atol=1e-12)
    z = (cube.all_lags.sel(dyad="D2", session=3) - data.x_mean) / data.x_sd
    k = int(np.flatnonzero((data.obs_dyad.values == "D2") & (data.obs_session.values == 3))[0])
    total = X.sel(level="within")[k] + X.sel(level="between")[k]
    zbar = (
        ((cube.all_lags - data.x_mean) / data.x_sd)
        .where(np.isfinite(cube.all_lags).all("segment"))
        .mean(("dyad", "session"))
    )
    np.testing.assert_allclose(total + zbar, z, atol=1e-12)


def test_model_structure_named_dims():
    cube, alliance = _toy()
    model = _build_alliance_model(_prepare_alliance_data(cube, alliance))
    assert model.named_vars_to_dims["beta"] == ("level", "segment", "outcome")
    assert model.named_vars_to_dims["u_dyad"] == ("dyad", "outcome")
    assert "gamma" in model.named_vars
    plain = _build_alliance_model(_prepare_alliance_data(cube, alliance), session_covariate=False)
    assert "gamma" not in plain.named_vars


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda c, a: (c, a.assign_coords(dyad=[f"X{i}" for i in range(5)])), "share no"),
        (lambda c, a: (c, a.drop_vars("goal")), r"no scale\(s\) \['goal'\]"),
        (
            lambda c, a: (c.assign(all_lags=c.all_lags.where(c.segment != "CB")), a),
            "every session lacks this segment",
        ),
        (lambda c, a: (c.isel(dyad=[0, 1]), a), "needs at least 3 dyads"),
        (lambda c, a: (c, a.assign(bond=a.bond * 0 + 4)), r"scale \['bond'\] does not vary"),
        (lambda c, a: (c.drop_vars("all_lags").assign(peak=c.all_lags), a), "no summary"),
    ],
)
def test_bad_input(change, match):
    cube, alliance = _toy()
    cube, alliance = change(cube, alliance)
    with pytest.raises(ValueError, match=match):
        md.stats.fit_alliance_model(cube, alliance)


def test_bad_options():
    cube, alliance = _toy()
    with pytest.raises(ValueError, match="'sampler' parameter"):
        md.stats.fit_alliance_model(cube, alliance, sampler="stan")
    with pytest.raises(ValueError, match="draws must be a positive integer"):
        md.stats.fit_alliance_model(cube, alliance, draws=0)
    with pytest.raises(ValueError, match="no segment"):
        md.stats.fit_alliance_model(cube, alliance, segments=("IM", "REST"))


@pytest.fixture(scope="module")
def recovery_fit():
    """A small seeded study with a within-dyad IM -> bond effect only."""
    study = md.simulation.simulate_study(
        n_dyads=20,
        n_sessions=5,
        n_usable=80,
        duration=1200.0,
        seed=3,
        betas={"bond": 1.0, "task": 0.0, "goal": 0.0},
        verbose=False,
    )
    cube = md.synchrony_cube(study.raws, verbose=False)
    fit = md.stats.fit_alliance_model(
        cube,
        study.alliance,
        # 0.1's model form: on these 20 dyads the default random slopes and detrending
        # leave the effect at P(beta > 0) of about 0.9 (their power: the calibration)
        random_slopes=False,
        detrend=False,
        session_covariate="linear",
        draws=1000,
        chains=2,
        sampler="nutpie",
        seed=1,
        verbose=False,
    )
    return fit


@pytest.mark.slow
def test_recovers_sign_of_within_im_bond_effect(recovery_fit):
    table = recovery_fit.summary()
    bond = table.loc["beta[within, IM, bond]"]
    assert bond["mean"] > 0.1 and bond["p_gt_0"] > 0.95
    assert bond["ci_lower"] > 0
    # the largest within-IM effect is the one simulated
    others = table.loc[["beta[within, IM, task]", "beta[within, IM, goal]"], "mean"]
    assert (others.abs() < bond["mean"]).all()
    assert recovery_fit.diagnostics["divergences"] == 0


@pytest.mark.slow
def test_summary_contrast_and_round_trip(recovery_fit, tmp_path):
    table = recovery_fit.summary(ci_prob=0.5)
    assert list(table.columns) == [
        "mean",
        "sd",
        "ci_lower",
        "ci_upper",
        "p_gt_0",
        "partial_r",
        "r_hat",
        "ess_bulk",
        "ess_tail",
    ]
    # the simulated within effect is a positive within-dyad correlation; the multivariate
    # residual SDs (chol_resid_stds) enter it
    r = recovery_fit.partial_within_r()
    assert r.dims == ("chain", "draw", "segment", "outcome")
    assert 0.1 < float(r.sel(segment="IM", outcome="bond").mean()) < 0.9
    assert table["partial_r"].notna().sum() == 6
    assert len(table) == 12 + 6 and table.attrs["ci_prob"] == 0.5  # betas, contextual
    beta = recovery_fit.datatree["posterior"]["beta"]
    contextual = beta.sel(level="between") - beta.sel(level="within")
    assert table.loc["contextual[IM, bond]", "mean"] == pytest.approx(
        float(contextual.sel(segment="IM", outcome="bond").mean())
    )
    draws = recovery_fit.datatree["posterior"]["beta"].sel(
        level="within", segment="IM", outcome="bond"
    )
    row = table.loc["beta[within, IM, bond]"]
    assert row["mean"] == pytest.approx(float(draws.mean()))
    assert row["p_gt_0"] == pytest.approx(float((draws > 0).mean()))
    assert row["ci_lower"] == pytest.approx(float(draws.quantile(0.25)), abs=1e-9)
    con = recovery_fit.contrast("IM - CB", level="within")
    diff = draws - recovery_fit.datatree["posterior"]["beta"].sel(
        level="within", segment="CB", outcome="bond"
    )
    assert con.loc["bond", "mean"] == pytest.approx(float(diff.mean()))
    with pytest.raises(ValueError, match="'A - B'"):
        recovery_fit.contrast("IM + CB")
    path = recovery_fit.to_netcdf(tmp_path / "posterior.nc")
    back = md.stats.read_alliance_fit(path)
    pd.testing.assert_frame_equal(back.summary(), recovery_fit.summary())
    xr.testing.assert_identical(back.data, recovery_fit.data)
    assert back.params == json.loads(json.dumps(recovery_fit.params, default=str))
    with pytest.raises(FileExistsError):
        recovery_fit.to_netcdf(path)
    effects = recovery_fit.effects_table()
    assert effects.shape == (4, 3) and "P>0=" in effects.loc["within IM", "bond"]
    assert list(effects.index) == ["within IM", "within CB", "between IM", "between CB"]


@pytest.mark.slow
def test_short_sampling_warns_with_advice():
    cube, alliance = _toy(n_dyads=6)
    with pytest.warns(RuntimeWarning, match=r"bulk ESS as low as \d+, below 400 \(raise draws=\)"):
        fit = md.stats.fit_alliance_model(
            cube, alliance, random_slopes=False, draws=20, tune=20, sampler="pymc", seed=0
        )
    assert fit.diagnostics["min_ess_bulk"] < 200
    assert fit.diagnostics["min_ess_required"] == 400
    assert fit.datatree["posterior"].sizes["draw"] == 20


def test_ess_rule():
    """100 per chain for every model; the alliance model's 400 when that is higher."""
    from mne_dyad.stats._sampling import _sampler_problems

    d = {"divergences": 0, "max_rhat": 1.002, "min_ess_bulk": 350.0}
    assert _sampler_problems(d, 2) == []  # 350 >= 100 x 2
    assert [w for w, _ in _sampler_problems(d, 4)] == ["bulk ESS as low as 350, below 400"]
    ((what, advice),) = _sampler_problems({**d, "min_ess_required": 400}, 2)
    assert what == "bulk ESS as low as 350, below 400" and advice == "raise draws="
    assert _sampler_problems({**d, "min_ess_bulk": 400.0, "min_ess_required": 400}, 2) == []
    assert _sampler_problems({**d, "min_ess_required": 400}, 8)[0][0].endswith("below 800")


@pytest.mark.slow
def test_plot_alliance_effects_matches_summary(recovery_fit):
    fig = md.viz.plot_alliance_effects(recovery_fit, show=False)
    assert [ax.get_title() for ax in fig.axes] == ["bond", "task", "goal"]
    table = recovery_fit.summary()
    bond = fig.axes[0]
    # first row: within IM; its interval line spans the 89% ETI
    interval = bond.get_lines()[0]
    np.testing.assert_allclose(
        interval.get_xdata(),
        table.loc["beta[within, IM, bond]", ["ci_lower", "ci_upper"]].to_numpy(float),
    )
    assert bond.get_xlabel() == "beta (SD per SD)"
    assert [t.get_text() for t in bond.get_yticklabels()] == [
        "within IM",
        "within CB",
        "between IM",
        "between CB",
    ]


def test_fit_posterior_is_the_deprecated_name_of_datatree():
    tree = xr.DataTree.from_dict({"posterior": xr.Dataset({"beta": ("draw", [0.1, 0.2])})})
    fit = md.stats.AllianceFit(tree, xr.Dataset(), params={}, diagnostics={})
    assert fit.datatree is tree
    with pytest.warns(FutureWarning, match="renamed AllianceFit.datatree"):
        assert fit.posterior is tree
