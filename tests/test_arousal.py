"""Session arousal: SCR rates and tonic levels per segment (md.synchrony.arousal)."""

import warnings

import mne
import numpy as np
import pytest

import mne_dyad as md
from mne_dyad.synchrony._arousal import _scr_peaks, _session_arousal

nk = pytest.importorskip("neurokit2")


@pytest.fixture(scope="module")
def aroused_study():
    """Sessions whose shared SCR rate varies (log-SD 0.6)."""
    return md.simulation.simulate_study(
        n_dyads=6, n_sessions=3, n_usable=12, duration=600.0, scr_rate_sd=0.6, seed=0
    )


def _one(raw, key=("D01", 1), **kwargs):
    return md.synchrony.arousal({key: raw}, **kwargs)


def test_rates_recover_the_true_session_rates(aroused_study):
    ds = md.synchrony.arousal(aroused_study)
    assert dict(ds.sizes) == {"dyad": 6, "session": 3, "segment": 2}
    assert sorted(ds.data_vars) == [
        "client_scr_rate",
        "client_tonic",
        "therapist_scr_rate",
        "therapist_tonic",
    ]
    assert ds.client_scr_rate.attrs["units"] == "1/min" and ds.client_tonic.attrs["units"] == "uS"
    assert "client" in ds.client_scr_rate.attrs["long_name"]
    assert list(ds.therapist.values) == list(aroused_study.alliance.therapist.values)
    # unusable sessions are NaN, usable ones all have values
    usable = aroused_study.truth.usable.astype(bool)
    assert np.isfinite(ds.client_scr_rate.where(usable)).sum() == 2 * int(usable.sum())
    assert ds.client_scr_rate.where(~usable).isnull().all()
    truth = aroused_study.truth.scr_rate.values[usable.values]
    for seg in ("IM", "CB"):
        measured = ds.client_scr_rate.sel(segment=seg).values[usable.values]
        r = np.corrcoef(truth, measured)[0, 1]
        ratio = np.median(measured / truth)
        # measured (seed 0): r = 0.94 (IM), 0.92 (CB); median measured / true rate
        # 0.80 (IM), 0.93 (CB). Responses closer than ~2 s merge into one peak, so
        # the count falls short at high rates (about 0.7 of 14 per minute).
        assert r > 0.8, (seg, r)
        assert 0.7 < ratio < 1.1, (seg, ratio)
    # tonic levels: the simulated levels are 2 to 8 uS
    tonic = ds.client_tonic.values[np.isfinite(ds.client_tonic.values)]
    assert 1.5 < tonic.min() and tonic.max() < 9.0


def test_rates_do_not_depend_on_the_sampling_rate():
    """An 8-Hz session and the same at 1000 Hz (with sensor noise) agree."""
    raw = md.simulation.simulate_session(duration=600, seed=0, dyad="D01", session=1)
    fast = raw.copy().resample(1000.0, verbose=False)
    rng = np.random.default_rng(0)
    fast._data += 0.02e-6 * rng.standard_normal(fast._data.shape)  # 0.02 uS white noise
    slow, quick = _one(raw), _one(fast)
    # measured: the same counts; the rates differ by < 0.1 % (segment length on
    # the analysis grid), the tonic levels by < 0.001 uS
    for role in ("client", "therapist"):
        np.testing.assert_allclose(quick[f"{role}_scr_rate"], slow[f"{role}_scr_rate"], rtol=0.01)
        np.testing.assert_allclose(quick[f"{role}_tonic"], slow[f"{role}_tonic"], atol=0.005)
    assert float(slow.client_scr_rate.sel(segment="IM").squeeze()) > 2.0


def test_flat_and_missing_segments():
    raw = md.simulation.simulate_session(duration=300, seed=0, dyad="D01", session=1)
    flat = raw.copy()
    flat._data[0] = 4e-6  # the client's EDA is a constant 4 uS
    ds = _one(flat, segments=("IM", "CB", "XX"))
    np.testing.assert_array_equal(ds.client_scr_rate.sel(segment=["IM", "CB"]), 0.0)
    np.testing.assert_allclose(ds.client_tonic.sel(segment=["IM", "CB"]), 4.0)
    assert ds.sel(segment="XX").to_array().isnull().all()  # no XX annotation
    assert (ds.therapist_scr_rate.sel(segment=["IM", "CB"]) > 0).all()
    # a client with no responses at all (tonic drift and sensor noise only)
    quiet = md.simulation.simulate_session(duration=300, scr_rate=(0.0, 4.0), seed=1)
    values = _session_arousal(quiet, ("IM", "CB"), None, 0.01)
    np.testing.assert_array_equal(values.client_scr_rate, 0.0)


def test_bad_spans_count_neither_responses_nor_time():
    raw = md.simulation.simulate_session(
        duration=600, segments=[("IM", 0.0, 600.0)], seed=2, dyad="D01", session=1
    )
    # the reference: the same session's rates outside 200-300 s
    outside = raw.copy()
    outside.annotations.append([0.0, 300.0], [200.0, 300.0], ["OUT", "OUT"])
    reference = _one(outside, segments="OUT")
    # motion artifacts (sharp 2-uS spikes every 4 s) between 200 and 300 s
    art = raw.copy()
    times = art.times
    for t0 in np.arange(202.0, 298.0, 4.0):
        art._data[:, (times >= t0) & (times < t0 + 0.5)] += 2e-6
    spiky = _one(art, segments="IM")
    art.annotations.append(200.0, 100.0, "BAD_motion")
    art.annotations.append(210.0, 50.0, "QUIET")  # entirely inside the BAD span
    with pytest.warns(RuntimeWarning, match="no usable sample in the 'QUIET' segment"):
        masked = _one(art, segments=("IM", "QUIET"))
    ref = float(reference.client_scr_rate.squeeze())
    # measured: 8.0 / min with the spikes counted; 3.72 / min with the BAD span,
    # as outside it without
    assert float(spiky.client_scr_rate.sel(segment="IM").squeeze()) > ref + 2
    np.testing.assert_allclose(masked.client_scr_rate.sel(segment="IM"), ref, atol=0.25)
    np.testing.assert_allclose(
        masked.client_tonic.sel(segment="IM"), float(reference.client_tonic.squeeze()), atol=0.05
    )
    assert masked.sel(segment="QUIET").to_array().isnull().all()


def test_missing_role_channel_is_a_clear_error():
    raw = md.simulation.simulate_session(duration=120, seed=0, dyad="D07", session=3)
    with pytest.raises(ValueError, match=r"dyad D07, session 3 has no channel.*therapist"):
        _one(raw.copy().drop_channels(["therapist"]), key=("D07", 3))
    with pytest.raises(ValueError, match="amplitude_min"):
        _one(raw, amplitude_min=-1.0)
    with pytest.raises(TypeError, match="sessions must be a study"):
        md.synchrony.arousal([raw])


def test_scr_peaks_match_neurokit2():
    """The vectorised peak search is neurokit2's eda_peaks (onset, amplitude)."""
    raw = md.simulation.simulate_session(duration=300, seed=4)
    x = raw.get_data()[0] * 1e6
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        phasic = np.asarray(nk.eda_phasic(x, sampling_rate=8, method="highpass")["EDA_Phasic"])
    _, info = nk.eda_peaks(phasic, sampling_rate=8, amplitude_min=0)
    valid = np.isfinite(info["SCR_Amplitude"])
    for amplitude_min in (0.0, 0.05):
        peaks, amplitude = _scr_peaks(phasic, amplitude_min)
        keep = valid & (info["SCR_Amplitude"] >= amplitude_min)
        np.testing.assert_array_equal(peaks, info["SCR_Peaks"][keep])
        np.testing.assert_allclose(amplitude, info["SCR_Amplitude"][keep])


def test_session_arousal_is_the_building_block(aroused_study):
    key = next(iter(aroused_study.raws))
    raw = aroused_study.raws[key]
    one = _session_arousal(raw, ("IM", "CB"), None, 0.01)
    assert one.client_scr_rate.dims == ("segment",)
    assert (one.attrs["x_role"], one.attrs["y_role"]) == ("client", "therapist")
    study = md.synchrony.arousal({key: raw}, n_jobs=1)
    np.testing.assert_array_equal(
        study.client_scr_rate.squeeze(("dyad", "session")), one.client_scr_rate
    )
    assert isinstance(raw, mne.io.BaseRaw)
