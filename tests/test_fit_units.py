"""AllianceFit.summary units and the partial within-dyad correlation, on known answers."""

import numpy as np
import pytest
import xarray as xr

from mne_dyad.stats import AllianceFit
from mne_dyad.stats._models import _prepare_alliance_data

pytestmark = [
    pytest.mark.filterwarnings("ignore:The observed dyad means"),
    pytest.mark.filterwarnings("ignore:invalid value encountered"),
]


def _study(n_dyads=300, n_sessions=6, b_im=0.4, b_cb=-0.3, sigma=0.8, seed=0):
    """Raw-unit synchrony (two correlated segments) and one alliance scale from known betas."""
    rng = np.random.default_rng(seed)
    shape = (n_dyads, n_sessions)
    im = 0.40 + 0.05 * rng.normal(size=(n_dyads, 1)) + 0.08 * rng.normal(size=shape)
    cb = 0.30 + 0.04 * rng.normal(size=(n_dyads, 1)) + 0.5 * (im - im.mean(1, keepdims=True))
    cb = cb + 0.06 * rng.normal(size=shape)
    w_im, w_cb = im - im.mean(1, keepdims=True), cb - cb.mean(1, keepdims=True)
    session = np.arange(1.0, n_sessions + 1)
    bond = (
        5.0
        + 0.6 * rng.normal(size=(n_dyads, 1))
        + b_im * w_im / 0.08
        + b_cb * w_cb / 0.06
        + 0.05 * session
        + sigma * rng.normal(size=shape)
    )
    dyads = [f"D{i}" for i in range(n_dyads)]
    coords = {"dyad": dyads, "session": list(range(1, n_sessions + 1))}
    cube = xr.Dataset(
        {"all_lags": (("dyad", "session", "segment"), np.stack([im, cb], -1))},
        coords={**coords, "segment": ["IM", "CB"]},
    )
    alliance = xr.Dataset({"bond": (("dyad", "session"), bond)}, coords=coords)
    return cube, alliance


def _point_fit(data, beta, resid_sd, *, slope_sd=None, standardize=True, n_draws=50):
    """An AllianceFit whose posterior is a point mass at the given values."""

    def const(values, dims):
        values = np.asarray(values, float)
        return (("chain", "draw", *dims), np.broadcast_to(values, (2, n_draws, *values.shape)))

    coords = {k: data[k].values for k in ("level", "segment", "outcome")}
    post = {
        "beta": const(beta, ("level", "segment", "outcome")),
        "alpha": const(np.zeros(data.sizes["outcome"]), ("outcome",)),
        "sigma_resid": const(resid_sd, ("outcome",)),
    }
    beta = np.asarray(beta, float)
    post["contextual"] = const(beta[1] - beta[0], ("segment", "outcome"))
    if slope_sd is not None:
        post["sigma_slope"] = const(slope_sd, ("segment", "outcome"))
    posterior = xr.Dataset(post, coords=coords)
    # a little noise so that ArviZ's diagnostics are defined
    noise = np.random.default_rng(0).normal(0, 1e-9, posterior["beta"].shape)
    posterior["beta"] = posterior["beta"] + noise
    tree = xr.DataTree.from_dict({"posterior": posterior})
    params = {
        "summary": "all_lags",
        "standardize": standardize,
        "session_covariate": "linear",
        "multivariate": False,
    }
    return AllianceFit(tree, data, params=params, diagnostics={})


def test_units_convert_by_the_stored_standardisation():
    cube, alliance = _study(n_dyads=40)
    data = _prepare_alliance_data(cube, alliance, outcomes=("bond",))
    beta = np.array([[[0.3], [-0.2]], [[0.5], [0.1]]])  # level x segment x outcome
    fit = _point_fit(data, beta, [0.7])
    std = fit.summary()
    raw = fit.summary(units="raw")
    wsd = fit.summary(units="within_sd")
    y_sd, x_sd = float(data.y_sd[0]), data.x_sd.values
    # the pooled within-dyad SD of raw IM synchrony, computed here from the cube
    im = cube.all_lags.sel(segment="IM").values
    w = im - im.mean(1, keepdims=True)
    sd_w_im = np.sqrt((w**2).sum() / (w.size - w.shape[0]))
    row = "beta[within, IM, bond]"
    assert std.loc[row, "mean"] == pytest.approx(0.3, abs=1e-6)
    assert raw.loc[row, "mean"] == pytest.approx(0.3 * y_sd / x_sd[0], rel=1e-6)
    assert wsd.loc[row, "mean"] == pytest.approx(0.3 * y_sd / x_sd[0] * sd_w_im, rel=1e-6)
    # raw: per unit of synchrony; the contextual effect converts like its betas
    assert raw.loc["contextual[CB, bond]", "mean"] == pytest.approx(0.3 * y_sd / x_sd[1], rel=1e-5)
    assert raw.loc[row, "ci_lower"] <= raw.loc[row, "mean"] <= raw.loc[row, "ci_upper"]
    # the unit is named in the header and attrs; p_gt_0 and partial_r do not depend on it
    assert std.attrs["units"] == "standardized" and "per SD of all_lags" in std.columns.name
    assert raw.columns.name == "units: scale points per unit of all_lags"
    assert "within-dyad SD" in wsd.attrs["unit_description"]
    for col in ("p_gt_0", "partial_r"):
        np.testing.assert_allclose(raw[col].values, std[col].values)
    assert np.isnan(std.loc["beta[between, IM, bond]", "partial_r"])
    assert np.isfinite(std.loc[row, "partial_r"])
    assert np.isnan(std.loc["contextual[IM, bond]", "partial_r"])
    with pytest.raises(ValueError, match="'units' parameter"):
        fit.summary(units="percent")
    with pytest.raises(ValueError, match="applies to beta, contextual and delta"):
        fit.summary(["alpha"], units="raw")
    # a fit on raw values: None means raw, and "standardized" cannot be had
    raw_fit = _point_fit(data.assign(x_sd=data.x_sd * 0 + 1, y_sd=data.y_sd * 0 + 1), beta, [0.7])
    raw_fit.params["standardize"] = False
    assert raw_fit.summary().attrs["units"] == "raw"
    with pytest.raises(ValueError, match="fitted with standardize=False"):
        raw_fit.summary(units="standardized")


def test_partial_within_r_is_the_sample_partial_correlation():
    """At the true parameters, r equals the within-dyad partial correlation of the data."""
    b_im, b_cb, sigma = 0.4, -0.3, 0.8
    cube, alliance = _study(b_im=b_im, b_cb=b_cb, sigma=sigma)
    data = _prepare_alliance_data(cube, alliance, outcomes=("bond",))
    # the model's betas in its standardised units: the data's betas per raw SD, rescaled
    y_sd, x_sd = float(data.y_sd[0]), data.x_sd.values
    beta_w = np.array([b_im / 0.08, b_cb / 0.06]) * x_sd / y_sd
    beta = np.stack([beta_w, np.zeros(2)])[:, :, None]
    fit = _point_fit(data, beta, [sigma / y_sd])
    r = float(fit.partial_within_r().sel(segment="IM", outcome="bond").mean())
    # the sample partial correlation: within-dyad parts of bond and IM, both freed of CB
    # and of session by least squares
    X = data.X.sel(level="within").values
    y = data.y.values[:, 0]
    dyad = data.dyad_idx.values
    yw = y - (np.bincount(dyad, y) / np.bincount(dyad))[dyad]
    Z = np.column_stack([X[:, 1], data.session_c.values - 0])
    Z = Z - np.array([np.bincount(dyad, z) / np.bincount(dyad) for z in Z.T]).T[dyad]

    def resid(v):
        return v - Z @ np.linalg.lstsq(Z, v, rcond=None)[0]

    sample_r = np.corrcoef(resid(X[:, 0]), resid(yw))[0, 1]
    assert r == pytest.approx(sample_r, abs=0.02)
    assert r == pytest.approx(0.35, abs=0.1)  # a moderate correlation, not the beta itself
    # the summary column is its posterior mean; slope variance lowers r
    assert fit.summary().loc["beta[within, IM, bond]", "partial_r"] == pytest.approx(r)
    spread = _point_fit(data, beta, [sigma / y_sd], slope_sd=[[0.5], [0.5]])
    assert float(spread.partial_within_r().sel(segment="IM").mean()) < r - 0.02


def test_ppc_statistics_known_answers():
    from mne_dyad.stats._results import _ppc_statistics

    # 2 dyads x 3 sessions, one outcome; dyad 1's sessions are given out of order
    values = np.array([1.0, 2.0, 6.0, 7.0, 5.0, 3.0])[None, :, None]
    dyad = np.array([0, 0, 0, 1, 1, 1])
    session = np.array([1.0, 2.0, 3.0, 3.0, 2.0, 1.0])
    stats = _ppc_statistics(values, dyad, session, np.array([7.0]))
    dev = np.array([-2.0, -1.0, 3.0, 2.0, 0.0, -2.0])
    assert stats["sd_dyad_means"][0, 0] == pytest.approx(np.std([3.0, 5.0], ddof=1))
    assert stats["within_dyad_sd"][0, 0] == pytest.approx(np.sqrt((dev**2).sum() / 4))
    assert stats["share_at_ceiling"][0, 0] == pytest.approx(1 / 6)
    assert stats["mean_session_1"][0, 0] == pytest.approx(2.0)
    assert stats["mean_session_3"][0, 0] == pytest.approx(6.5)
    # pairs in session order: dyad 0 (-2, -1), (-1, 3); dyad 1 (-2, 0), (0, 2)
    lag1 = (2.0 - 3.0 + 0.0 + 0.0) / (dev**2).sum()
    assert stats["lag1_autocorr"][0, 0] == pytest.approx(lag1)
