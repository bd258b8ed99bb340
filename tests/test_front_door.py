"""compute_synchrony / synchrony_cube for every method: outputs, parameters, errors."""

import json

import numpy as np
import pytest
import xarray as xr

import mne_dyad as md

MAIN = {
    "wclc": "x_leads",
    "peak_picking": "peak_r",
    "susy": "ES",
    "phase": "plv",
    "concordance": "ssi",
}


def _session(coupling, seed, lag=3.0):
    return md.simulation.simulate_session(
        duration=1200,
        segments=[("IM", 0.0, 600.0), ("CB", 600.0, 600.0)],
        coupling={"IM": coupling, "CB": 0.0},
        lag=lag,
        seed=seed,
        dyad="D9",
        session=4,
    )


@pytest.mark.parametrize("method", sorted(MAIN))
def test_every_method_through_the_front_door(method):
    raw = _session(0.9, 0)
    sync = md.synchrony.compute_synchrony(raw, method=method)
    spec = md.synchrony.METHODS[method]
    for var in spec.variables:
        assert var in sync, var
        assert np.isfinite(sync[var].values).all(), var
    assert sync.attrs["method"] == method
    params = json.loads(sync.attrs["mne_dyad_params"])
    for key, value in spec.defaults.items():
        assert params[key] == (list(value) if isinstance(value, tuple) else value), key
    assert params["roles"] == ["client", "therapist"] and params["segments"] == ["IM", "CB"]


@pytest.mark.parametrize("method", ["wclc", "peak_picking", "susy", "phase"])
def test_coupled_segment_has_more_synchrony(method):
    """IM is coupled (0.9, therapist 3 s behind), CB is not: every lagged index sees it."""
    var = MAIN[method]
    for seed in range(2):
        sync = md.synchrony.compute_synchrony(_session(0.9, seed), method=method)
        assert float(sync[var].sel(segment="IM")) > float(sync[var].sel(segment="CB")), seed


def test_concordance_needs_zero_lag_coupling():
    """Slope concordance is a lag-0 index: it sees simultaneous, not delayed, following."""
    gains = []
    for seed in range(3):
        sync = md.synchrony.compute_synchrony(_session(0.9, seed, lag=0.0), method="concordance")
        gains.append(float(sync.ssi.sel(segment="IM") - sync.ssi.sel(segment="CB")))
    assert min(gains) > 0.2


def test_susy_cube_with_profiles_round_trips(small_study, tmp_path):
    cube = md.synchrony_cube(small_study.raws, method="susy", segment=20.0, max_lag=5.0)
    assert cube.Z.dims == ("dyad", "session", "segment")
    assert cube.z_real.dims == ("dyad", "session", "segment", "lag")
    assert cube.sizes["lag"] == 81 and float(cube.lag.max()) == 5.0
    xr.testing.assert_equal(cube.Z_client_leads.rename("Z_lead1"), cube.Z_lead1)
    assert json.loads(cube.attrs["mne_dyad_params"])["segment"] == 20.0
    md.write_cube(cube, tmp_path / "susy.nc")
    xr.testing.assert_identical(md.read_cube(tmp_path / "susy.nc"), cube)


@pytest.mark.parametrize(
    "method, params, error, match",
    [
        ("wclc", dict(lag=-1.0), ValueError, "lag must be"),
        ("wclc", dict(fisher_z="yes"), TypeError, "fisher_z must be an instance of bool"),
        ("peak_picking", dict(smooth=4), ValueError, "odd positive integer"),
        ("peak_picking", dict(lag=0.0), ValueError, "lag must be"),
        ("susy", dict(segment=10.0, max_lag=6.0), ValueError, r"at least 2 \* max_lag"),
        ("susy", dict(n_surrogates=0), ValueError, "positive integer or None"),
        ("concordance", dict(corr_window=2.0), ValueError, "at least 3 slopes"),
        ("phase", dict(band=(0.1, 6.0)), ValueError, "Nyquist"),
        ("phase", dict(band=0.1), ValueError, r"band must be \(low, high\)"),
        ("susy", dict(window=30.0), TypeError, r"Unknown parameter\(s\) \['window'\]"),
    ],
)
def test_bad_parameters_are_named(method, params, error, match):
    raw = _session(0.5, 0)
    with pytest.raises(error, match=match):
        md.synchrony.compute_synchrony(raw, method=method, **params)


def test_susy_too_few_segments_is_nan_with_warning():
    raw = md.simulation.simulate_session(
        duration=400,
        segments=[("IM", 0.0, 100.0), ("CB", 100.0, 40.0)],
        seed=0,
        dyad="D2",
        session=1,
    )
    with pytest.warns(RuntimeWarning, match=r"dyad D2, session 1: the 'CB' segments together"):
        sync = md.synchrony.compute_synchrony(raw, method="susy", segment=30.0, max_lag=5.0)
    assert np.isnan(sync.Z.sel(segment="CB")) and np.isfinite(sync.Z.sel(segment="IM"))
    assert np.isnan(sync.z_real.sel(segment="CB")).all()
