import json

import mne
import numpy as np
import pytest
import xarray as xr

import mne_dyad as md
from mne_dyad.synchrony._wclc import _window_summaries


def _session(segments, duration=900.0, seed=0):
    return md.simulation.simulate_session(
        duration=duration,
        segments=segments,
        coupling={lab: 0.6 for lab, _, _ in segments},
        seed=seed,
        dyad="D1",
        session=2,
    )


def test_compute_synchrony_matches_wclc_on_the_segment():
    raw = _session([("IM", 100.0, 300.0), ("CB", 500.0, 200.0)])
    sync = md.synchrony.compute_synchrony(raw, lag=5.0, window=20.0, step=10.0)
    x, y = raw.get_data()
    seg = slice(800, 800 + 2400)
    z = md.synchrony.wclc(x[seg], y[seg], 8.0, lag=5.0, window=20.0, step=10.0)
    summ = _window_summaries(z.values, z.lag.values)
    im = sync.sel(segment="IM")
    for key in ("lag0", "all_lags", "x_leads", "y_leads", "best_lag", "peak"):
        assert float(im[key]) == pytest.approx(np.nanmean(summ[key]), abs=1e-12), key
    assert float(im.grand_mean) == pytest.approx(float(z.mean()), abs=1e-12)
    assert float(im.n_windows) == z.sizes["window"]
    np.testing.assert_allclose(im.profile, z.mean("window"), atol=1e-12)
    np.testing.assert_array_equal(im.lag, z.lag)
    assert float(im.segment_duration) == 300.0
    params = json.loads(sync.attrs["mne_dyad_params"])
    assert params["lag"] == 5.0 and params["method"] == "wclc"
    assert params["roles"] == ["client", "therapist"]
    assert sync.attrs["dyad"] == "D1" and sync.attrs["session"] == 2


def test_same_label_pooled_by_window_count():
    raw = _session([("IM", 50.0, 200.0), ("IM", 400.0, 400.0)])
    kw = dict(lag=5.0, window=20.0, step=10.0)
    pooled = md.synchrony.compute_synchrony(raw, segments="IM", **kw).sel(segment="IM")
    x, y = raw.get_data()
    parts = [md.synchrony.wclc(x[a:b], y[a:b], 8.0, **kw) for a, b in ((400, 2000), (3200, 6400))]
    n = [p.sizes["window"] for p in parts]
    means = [float(p.mean("lag").mean()) for p in parts]
    assert float(pooled.all_lags) == pytest.approx(np.average(means, weights=n), abs=1e-12)
    assert float(pooled.n_windows) == sum(n)
    assert float(pooled.segment_duration) == 600.0


def test_short_segment_nan_with_named_warning():
    raw = _session([("IM", 50.0, 300.0), ("CB", 400.0, 20.0)])
    with pytest.warns(RuntimeWarning, match=r"dyad D1, session 2: the 'CB' segment at 400.0 s"):
        sync = md.synchrony.compute_synchrony(raw)
    assert np.isnan(sync.sel(segment="CB").all_lags)
    assert float(sync.sel(segment="CB").n_windows) == 0
    assert np.isfinite(sync.sel(segment="IM").all_lags)


def test_missing_label_is_nan_and_bad_spans_excluded():
    raw = _session([("IM", 50.0, 400.0)])
    sync = md.synchrony.compute_synchrony(raw, segments=("IM", "CB"))
    assert np.isnan(sync.sel(segment="CB").all_lags)
    bad = raw.copy()
    bad.set_annotations(bad.annotations + mne.Annotations([100.0], [100.0], ["BAD_motion"]))
    with_bad = md.synchrony.compute_synchrony(bad, segments="IM").sel(segment="IM")
    x, y = raw.get_data()
    x, y = x.copy(), y.copy()
    x[800:1600] = np.nan
    y[800:1600] = np.nan
    z = md.synchrony.wclc(x[400:3600], y[400:3600], 8.0, lag=10.0, window=30.0, step=15.0)
    assert float(with_bad.all_lags) == pytest.approx(float(z.mean("lag").mean()), abs=1e-12)
    clean = md.synchrony.compute_synchrony(raw, segments="IM").sel(segment="IM")
    assert float(with_bad.n_windows) < float(clean.n_windows)


def test_compute_synchrony_bad_input():
    raw = _session([("IM", 50.0, 400.0)])
    with pytest.raises(ValueError, match="Invalid value for the 'method' parameter"):
        md.synchrony.compute_synchrony(raw, method="magic")
    with pytest.raises(TypeError, match=r"Unknown parameter\(s\) \['window_len'\]"):
        md.synchrony.compute_synchrony(raw, window_len=30)
    with pytest.raises(ValueError, match="segments must be unique"):
        md.synchrony.compute_synchrony(raw, segments=("IM", "IM"))
    with pytest.raises(ValueError, match="no channel"):
        md.synchrony.compute_synchrony(raw, roles=("mother", "infant"))


def test_cube_layout(small_study, small_cube):
    cube = small_cube
    assert dict(cube.sizes) == {"dyad": 6, "session": 3, "segment": 2, "lag": 161}
    assert cube.all_lags.dims == ("dyad", "session", "segment")
    assert cube.profile.dims == ("dyad", "session", "segment", "lag")
    # the role-named lead summaries are the x/y ones
    xr.testing.assert_equal(cube.client_leads.rename("x_leads"), cube.x_leads)
    xr.testing.assert_equal(cube.therapist_leads.rename("y_leads"), cube.y_leads)
    assert list(cube.segment.values) == ["IM", "CB"]
    assert list(cube.therapist.values) == list(small_study.truth.therapist.values)
    usable = small_study.truth.usable.values.astype(bool)
    finite = np.isfinite(cube.all_lags.values).all(-1)
    np.testing.assert_array_equal(finite, usable)  # missing sessions NaN, never dropped
    key = next(iter(small_study.raws))
    one = md.synchrony.compute_synchrony(small_study.raws[key])
    # the cube holds each session's result, plus the reliabilities across cells
    across = [v for v in cube.data_vars if v.endswith(("_reliability", "_reliability_pooled"))]
    assert set(cube.data_vars) - set(one.data_vars) == set(across)
    xr.testing.assert_allclose(
        cube.sel(dyad=key[0], session=key[1]).drop_vars(["dyad", "session", "therapist", *across]),
        one,
        atol=0,
    )
    assert cube.best_lag.attrs["units"] == "s"
    assert "client" in cube.x_leads.attrs["long_name"]
    params = json.loads(cube.attrs["mne_dyad_params"])
    assert params["window"] == 30.0 and params["mne_dyad_version"] == md.__version__


def test_cube_round_trip(small_cube, tmp_path):
    path = md.write_cube(small_cube, tmp_path / "cube.nc")
    back = md.read_cube(path)
    xr.testing.assert_identical(back, small_cube)
    for name in small_cube.variables:
        assert back[name].attrs == small_cube[name].attrs
    assert back.attrs == small_cube.attrs
    with pytest.raises(FileExistsError, match="overwrite=True"):
        md.write_cube(small_cube, path)
    small_cube.mne_dyad.save(path, overwrite=True)
    xr.testing.assert_identical(md.read_cube(path), small_cube)


def test_cube_write_never_leaves_partial_files(small_cube, tmp_path):
    broken = small_cube.copy()
    broken.attrs["nested"] = {"a": 1}
    with pytest.raises(TypeError, match="Attribute 'nested' of the cube is a dict"):
        md.write_cube(broken, tmp_path / "cube.nc")
    bad_var = small_cube.copy()
    bad_var["lag0"].attrs["flag"] = True
    with pytest.raises(TypeError, match="variable 'lag0'"):
        md.write_cube(bad_var, tmp_path / "cube.nc")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(FileNotFoundError, match="does not exist"):
        md.write_cube(small_cube, tmp_path / "nope" / "cube.nc")
    (tmp_path / "junk.nc").write_text("not netcdf")
    with pytest.raises(ValueError, match="Could not read"):
        md.read_cube(tmp_path / "junk.nc")


def test_cube_bad_input(small_study):
    with pytest.raises(ValueError, match="sessions is empty"):
        md.synchrony_cube({})
    raw = next(iter(small_study.raws.values()))
    with pytest.raises(ValueError, match=r"\(dyad, session\) tuples"):
        md.synchrony_cube({"D1": raw})
    other = raw.copy().rename_channels({"client": "mother", "therapist": "infant"})
    other.info["description"] = other.info["description"].replace(
        '"client", "therapist"', '"mother", "infant"'
    )
    with pytest.raises(ValueError, match="has roles"):
        md.synchrony_cube({("A", 1): raw, ("B", 1): other}, roles=None)


def test_analysis_rate_recorded_and_lab_rates_hinted(monkeypatch):
    from mne_dyad.utils import _signal

    # a 1000 Hz lab session, as combined from two amplifiers
    lab = md.simulation.simulate_session(
        duration=200,
        sfreq=1000.0,
        noise=0.0015,
        adc_step=0.0015,
        segments=[("IM", 10.0, 180.0)],
        seed=2,
        dyad="L1",
        session=1,
    )
    at_8 = md.io.combine_dyad(lab.copy().pick([0]), lab.copy().pick([1]), dyad="L1", session=1)
    at_8.set_annotations(lab.annotations)
    monkeypatch.setattr(_signal, "_HINTED", [])
    with mne.utils.catch_logging(verbose=True) as log:
        sync_8 = md.synchrony.compute_synchrony(at_8, lag=5.0, window=20.0, step=10.0)
    assert "is at" not in log.getvalue()  # 8 Hz: no hint
    params = json.loads(sync_8.attrs["mne_dyad_params"])
    assert params["sfreq"] == 8.0 and params["native_sfreq"] == [1000.0]
    with mne.utils.catch_logging(verbose=True) as log:
        sync_1000 = md.synchrony.compute_synchrony(lab, lag=5.0, window=20.0, step=10.0)
        md.synchrony.compute_synchrony(lab, lag=5.0, window=20.0, step=10.0)
    text = log.getvalue()
    assert text.count("is at 1000 Hz") == 1  # once per process
    assert "sfreq=8" in text
    # sensor noise above 4 Hz lowers synchrony at the native rate; at 8 Hz the
    # anti-alias filter removes it, and the value is that of the noiseless session
    quiet = md.simulation.simulate_session(
        duration=200, sfreq=1000.0, noise=0.0, segments=[("IM", 10.0, 180.0)], seed=2
    )
    truth = md.synchrony.compute_synchrony(quiet, lag=5.0, window=20.0, step=10.0)
    truth = float(truth.all_lags.sel(segment="IM"))
    assert float(sync_8.all_lags.sel(segment="IM")) == pytest.approx(truth, abs=0.002)
    assert float(sync_1000.all_lags.sel(segment="IM")) < truth - 0.01
    # sessions at two rates: the error names both and the setting that fixes it
    other = at_8.copy()
    other.resample(4.0, method="polyphase", verbose=False)
    md.io._session._set_session_info(other, dyad="L2", session=1)
    match = r"L2, session 1 is analysed at 4.0 Hz .* at 8.0 Hz.*\[combine\] sfreq = 8"
    with pytest.raises(ValueError, match=match):
        md.synchrony_cube({("L1", 1): at_8, ("L2", 1): other}, lag=5.0, window=20.0, step=10.0)
