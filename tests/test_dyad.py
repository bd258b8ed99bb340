import datetime as dt
import json
import warnings

import mne
import numpy as np
import pytest

import mne_dyad as md

T0 = dt.datetime(2019, 3, 4, 10, 0, 0, tzinfo=dt.UTC)


def _clock_raw(sfreq, duration, start, *, ch="EDA", ch_type="gsr", clock=None):
    """EDA whose value encodes absolute time: 2 uS + (t - T0) * 1 nS/s."""
    t = np.arange(int(duration * sfreq)) / sfreq + (start - T0).total_seconds()
    if clock is not None:  # a device clock that reads ``clock`` s off
        start = start + dt.timedelta(seconds=clock)
    raw = mne.io.RawArray(
        (2e-6 + t * 1e-9)[None], mne.create_info([ch], sfreq, ch_type), verbose=False
    )
    raw.set_meas_date(start)
    return raw


def test_default_rate_is_the_analysis_rate():
    # a 4 Hz wristband and a 1000 Hz lab amplifier: both end at 8 Hz, the same ramp
    a = _clock_raw(4.0, 120, T0)
    b = _clock_raw(1000.0, 120, T0)
    raw = md.io.combine_dyad(a, b)
    assert raw.info["sfreq"] == 8.0 and raw.n_times == 120 * 8
    data = raw.get_data()
    truth = 2e-6 + np.arange(raw.n_times) / 8.0 * 1e-9
    np.testing.assert_allclose(data[:, 16:-16], np.vstack([truth, truth])[:, 16:-16], atol=1e-12)
    meta = md.io.get_session_info(raw)
    assert meta["alignment"]["sfreq_in"] == {"client": 4.0, "therapist": 1000.0}
    assert meta["alignment"]["sfreq"] == 8.0


def test_different_rates_resample_to_lower():
    a = _clock_raw(4.0, 300, T0)
    b = _clock_raw(32.0, 300, T0)
    raw = md.io.combine_dyad(a, b, sfreq=None)
    assert raw.info["sfreq"] == 4.0
    assert raw.ch_names == ["client", "therapist"]
    assert raw.get_channel_types() == ["gsr", "gsr"]
    data = raw.get_data()
    # the 32 Hz ramp resampled to 4 Hz matches the 4 Hz ramp (edges aside)
    np.testing.assert_allclose(data[1, 8:-8], data[0, 8:-8], rtol=0, atol=1e-12)
    meta = md.io.get_session_info(raw)
    assert meta["alignment"]["sfreq_in"] == {"client": 4.0, "therapist": 32.0}
    up = md.io.combine_dyad(a, b, sfreq=16.0)
    assert up.info["sfreq"] == 16.0 and up.n_times == 300 * 16


def test_different_start_times_crop_to_overlap():
    a = _clock_raw(8.0, 600, T0)
    b = _clock_raw(8.0, 600, T0 + dt.timedelta(seconds=12.5))
    # more than 2% of a recording cropped is a warning naming the session and the role
    with pytest.warns(
        RuntimeWarning,
        match=r"^dyad D1, session 2: the recordings overlap for 587.5 s, so 2.1% of the "
        r"client's .*\(12.5 s at the start, 0.0 s at the end\) and 2.1% of the therapist's",
    ):
        raw = md.io.combine_dyad(a, b, dyad="D1", session=2)
    assert raw.info["meas_date"] == T0 + dt.timedelta(seconds=12.5)
    assert raw.n_times == int((600 - 12.5) * 8)
    data = raw.get_data()
    np.testing.assert_allclose(data[0], data[1], rtol=0, atol=1e-15)  # same clock time
    cropped = md.io.get_session_info(raw)["alignment"]["cropped"]
    assert cropped["client"] == {"start_s": 12.5, "end_s": 0.0}
    assert cropped["therapist"] == {"start_s": 0.0, "end_s": 12.5}
    # 1% is logged, not warned
    close = _clock_raw(8.0, 600, T0 + dt.timedelta(seconds=6.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        md.io.combine_dyad(a, close)


def test_offset_corrects_clock_skew():
    # the therapist's device clock reads 5 s behind true time
    a = _clock_raw(8.0, 600, T0)
    b = _clock_raw(8.0, 600, T0, clock=-5.0)
    skewed = md.io.combine_dyad(a, b)
    assert skewed.n_times == 595 * 8  # without the offset, 5 s look non-overlapping
    skewed = skewed.get_data()
    assert np.abs(skewed[0] - skewed[1]).max() > 4.9e-9  # 5 s x 1 nS/s apart
    raw = md.io.combine_dyad(a, b, offset=5.0)
    data = raw.get_data()
    np.testing.assert_allclose(data[0], data[1], rtol=0, atol=1e-15)
    assert raw.n_times == 600 * 8  # the true overlap is the whole recording
    assert md.io.get_session_info(raw)["alignment"]["offset_s"] == 5.0


def test_annotations_kept_on_new_time_base():
    a = _clock_raw(8.0, 600, T0)
    a.set_annotations(mne.Annotations([100.0, 10.0], [60.0, 20.0], ["IM", "BAD_move"]))
    b = _clock_raw(8.0, 600, T0 + dt.timedelta(seconds=20))
    b.set_annotations(mne.Annotations([200.0, 590.0], [30.0, 5.0], ["CB", "BAD_late"]))
    raw = md.io.combine_dyad(a, b)
    ann = raw.annotations
    onsets = dict(zip(ann.description, ann.onset - raw.first_time))
    durations = dict(zip(ann.description, ann.duration))
    assert onsets["IM"] == pytest.approx(80.0)  # 100 s after T0, 80 s after the start
    assert onsets["CB"] == pytest.approx(200.0)
    # a's BAD_move (T0+10 to T0+30 s) starts before the overlap: clipped to 0-10 s
    assert onsets["BAD_move"] == pytest.approx(0.0)
    assert durations["BAD_move"] == pytest.approx(10.0)
    # b's BAD_late (T0+610 s) lies after a ends (T0+600 s): dropped
    assert "BAD_late" not in durations


def test_no_meas_date_aligns_on_first_sample():
    a = mne.io.RawArray(np.full((1, 80), 2e-6), mne.create_info(["gsr"], 8.0, "gsr"))
    b = mne.io.RawArray(np.full((1, 60), 3e-6), mne.create_info(["gsr"], 8.0, "gsr"))
    raw = md.io.combine_dyad(a, b)
    assert raw.n_times == 60 and raw.info["meas_date"] is None
    assert md.io.get_session_info(raw)["alignment"]["aligned_on"] == "first_sample"
    # only one has a start time: the warning names the session and both recordings
    b.set_meas_date(T0)
    match = r"dyad D7, session 3: only the therapist's in-memory recording has a meas_date, not"
    with pytest.warns(RuntimeWarning, match=match):
        raw = md.io.combine_dyad(a, b, dyad="D7", session=3)
    assert md.io.get_session_info(raw)["session"] == 3


def test_pick_and_name_based_candidates():
    info = mne.create_info(["ECG", "EDA_left", "EDA_right"], 8.0, ["ecg", "gsr", "gsr"])
    several = mne.io.RawArray(np.full((3, 80), 2e-6), info, verbose=False)
    one = mne.io.RawArray(
        np.full((1, 80), 2e-6), mne.create_info(["skin cond"], 8.0, "misc"), verbose=False
    )
    with pytest.raises(ValueError, match=r"has 2 EDA channel candidates.*pick="):
        md.io.combine_dyad(several, one)
    raw = md.io.combine_dyad(several, one, pick=("EDA_right", "skin cond"))
    assert raw.ch_names == ["client", "therapist"]
    # the misc channel named like EDA is found without pick
    raw = md.io.combine_dyad(one, one)
    assert raw.get_channel_types() == ["gsr", "gsr"]
    with pytest.raises(ValueError, match="Channel 'nope' requested for the client"):
        md.io.combine_dyad(several, one, pick="nope")


def test_zero_candidates_error():
    info = mne.create_info(["foo"], 8.0, "misc")
    raw = mne.io.RawArray(np.full((1, 80), 2e-6), info, verbose=False)
    with pytest.raises(ValueError, match=r"therapist's in-memory recording has no EDA channel"):
        md.io.combine_dyad(_clock_raw(8.0, 10, T0), raw)


def test_no_overlap_error():
    a = _clock_raw(8.0, 60, T0)
    b = _clock_raw(8.0, 60, T0 + dt.timedelta(seconds=120))
    with pytest.raises(ValueError, match="do not overlap in time.*meas_date"):
        md.io.combine_dyad(a, b)


def test_microsiemens_passed_as_siemens_error():
    a = _clock_raw(8.0, 60, T0)
    b = a.copy().apply_function(lambda x: x * 1e6, picks="all")  # 2.0 "S": really microsiemens
    with pytest.raises(ValueError, match=r"therapist.*looks like microsiemens.*1e-6"):
        md.io.combine_dyad(a, b)
    c = a.copy().apply_function(lambda x: x * 1e-12, picks="all")
    with pytest.raises(ValueError, match="converted to siemens twice"):
        md.io.combine_dyad(c, a)
    d = a.copy().apply_function(lambda x: x * np.nan, picks="all")
    with pytest.raises(ValueError, match="no finite values"):
        md.io.combine_dyad(d, a)


def test_gaps_survive_resampling():
    a = _clock_raw(32.0, 120, T0)
    a._data[0, 32 * 50 : 32 * 60] = np.nan  # 10 s gap
    raw = md.io.combine_dyad(a, _clock_raw(4.0, 120, T0), sfreq=None)  # at 4 Hz
    gap = np.isnan(raw.get_data()[0])
    assert gap[4 * 51 : 4 * 59].all()
    assert not gap[: 4 * 49].any() and not gap[4 * 61 :].any()


def test_bad_arguments():
    a = _clock_raw(8.0, 60, T0)
    with pytest.raises(ValueError, match="two different non-empty strings"):
        md.io.combine_dyad(a, a, roles=("x", "x"))
    with pytest.raises(TypeError, match="client must be an instance of"):
        md.io.combine_dyad(np.zeros(3), a)
    with pytest.raises(ValueError, match="finite number of seconds"):
        md.io.combine_dyad(a, a, offset=np.inf)
    raw = md.io.combine_dyad(a, a, dyad="D1", session=2, therapist_id="T9")
    meta = json.loads(raw.info["description"])
    assert (meta["dyad"], meta["session"], meta["therapist"]) == ("D1", 2, "T9")


@pytest.mark.parametrize("native", [999.95, 2049.18])
def test_odd_native_rates_do_not_drift(native):
    """A rate the resampler's rational factor only approximates lands on the exact grid."""
    from mne_dyad.utils._signal import _resample_nan_aware

    t = np.arange(int(3000 * native)) / native  # 50 minutes
    x = 5 + np.sin(2 * np.pi * 0.1 * t) + 0.3 * np.sin(2 * np.pi * 1.0 * t)
    y = _resample_nan_aware(x, native, 8.0)
    assert y.size == 24000
    tt = np.arange(y.size) / 8.0
    truth = 5 + np.sin(2 * np.pi * 0.1 * tt) + 0.3 * np.sin(2 * np.pi * 1.0 * tt)
    # a drift of 0.15 s (the factor 1/125 for 999.95 Hz) would give errors near 0.1
    assert np.abs(y - truth)[50:-50].max() < 1e-3
