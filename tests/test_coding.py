"""Segment coding sheets in every time format and layout, and their errors."""

import datetime as dt

import mne
import numpy as np
import pandas as pd
import pytest

import mne_dyad as md

MAP = {"Imagery": "IM", "cognitive": "CB"}


def _raw(duration=3600.0, start=dt.datetime(2019, 5, 6, 14, 0, tzinfo=dt.UTC)):
    raw = mne.io.RawArray(
        np.full((1, int(duration * 4)), 2e-6), mne.create_info(["EDA"], 4.0, "gsr"), verbose=False
    )
    raw.set_meas_date(start)
    return raw


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".xlsx"])
def test_onset_duration_seconds_every_file_type(tmp_path, suffix):
    df = pd.DataFrame(
        {
            "Onset": [600.5, 60.0, 1500.0],
            "Duration": [400, 300.25, 500],
            "Segment": ["imagery", "IMAGERY", "Cognitive"],
        }
    )
    path = tmp_path / f"coding{suffix}"
    if suffix == ".xlsx":
        df.to_excel(path, index=False)
    else:
        df.to_csv(path, sep="\t" if suffix == ".tsv" else ",", index=False)
    raw = _raw()
    ann = md.io.read_segments(path, mapping=MAP, raw=raw)
    assert list(ann.description) == ["IM", "IM", "CB"]  # sorted by onset
    np.testing.assert_allclose(ann.onset - raw.first_time, [60.0, 600.5, 1500.0])
    np.testing.assert_allclose(ann.duration, [300.25, 400.0, 500.0])
    assert ann.orig_time == raw.info["meas_date"]  # on the Raw's clock


def test_start_end_clock_times():
    df = pd.DataFrame(
        {
            "code": ["IM", "CB", "IM"],
            "start": ["05:00", "00:12:30.5", "1:00:00"],
            "end": ["10:00", "00:20:00", "1:05:00"],
        }
    )
    ann = md.io.read_segments(df)
    np.testing.assert_allclose(ann.onset, [300.0, 750.5, 3600.0])
    np.testing.assert_allclose(ann.duration, [300.0, 449.5, 300.0])
    with pytest.raises(ValueError, match="'05:00' in data row 1 is not a time in seconds"):
        md.io.read_segments(df, time_format="seconds")


def test_wallclock_reference():
    df = pd.DataFrame(
        {
            "label": ["IM", "CB"],
            "start": ["14:05:00", "2019-05-06T14:30:00+00:00"],
            "end": ["14:15:00", "2019-05-06T14:40:30+00:00"],
        }
    )
    ann = md.io.read_segments(df, reference="wallclock", raw=_raw())
    np.testing.assert_allclose(ann.onset, [300.0, 1800.0])
    np.testing.assert_allclose(ann.duration, [600.0, 630.0])
    start = dt.datetime(2019, 5, 6, 14, 4, tzinfo=dt.UTC)
    np.testing.assert_allclose(
        md.io.read_segments(df, reference="wallclock", start=start).onset, [60.0, 1560.0]
    )
    with pytest.raises(ValueError, match="wall-clock times need the recording start"):
        md.io.read_segments(df, reference="wallclock")


def test_segments_annotate_a_session():
    raw = md.simulation.simulate_session(duration=900, segments=[], seed=0)
    df = pd.DataFrame({"label": ["IM", "CB"], "onset": [60, 400], "duration": [300, 300]})
    raw.set_annotations(md.io.read_segments(df, raw=raw))
    sync = md.synchrony.compute_synchrony(raw)
    assert float(sync.segment_duration.sel(segment="IM")) == 300.0
    assert np.isfinite(sync.all_lags).all()


@pytest.mark.parametrize(
    "df, kwargs, match",
    [
        (
            pd.DataFrame({"label": ["IM", "CB"], "onset": [0, 100], "duration": [150, 50]}),
            {},
            r"'IM' segment of data row 1 \(0-150 s\) overlaps the 'CB' segment of row 2",
        ),
        (
            pd.DataFrame({"label": ["IM"], "onset": [3500], "duration": [200]}),
            {"raw": _raw()},
            r"'IM' segment of data row 1 \(3500-3700 s\) lies outside the 3600 s recording",
        ),
        (
            pd.DataFrame({"label": ["imagery"], "onset": [0], "duration": [10]}),
            {},
            r"label\(s\) \['imagery'\] that are not among \['IM', 'CB'\]. Pass mapping=",
        ),
        (
            pd.DataFrame({"label": ["IM"], "start": ["00:10:00"], "end": ["00:05:00"]}),
            {},
            "ends at or before it starts",
        ),
        (pd.DataFrame({"label": ["IM"], "when": [0]}), {}, "no onset or start column"),
        (pd.DataFrame({"what": ["IM"], "onset": [0], "duration": [5]}), {}, "no label column"),
        (
            pd.DataFrame({"label": ["IM"], "onset": ["ten"], "duration": [5]}),
            {},
            r"onset 'ten' in data row 1 is not a time",
        ),
    ],
)
def test_bad_coding(df, kwargs, match):
    with pytest.raises(ValueError, match=match):
        md.io.read_segments(df, **kwargs)


def test_same_label_overlap_allowed_and_files(tmp_path):
    df = pd.DataFrame({"label": ["IM", "IM"], "onset": [0, 100], "duration": [150, 50]})
    assert len(md.io.read_segments(df)) == 2
    ann = md.io.read_segments(
        pd.DataFrame({"label": ["rest"], "onset": [0], "duration": [5]}), labels=None
    )
    assert list(ann.description) == ["rest"]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        md.io.read_segments(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_text("label,onset,duration\n")
    with pytest.raises(ValueError, match="has no segment rows"):
        md.io.read_segments(tmp_path / "empty.csv")
