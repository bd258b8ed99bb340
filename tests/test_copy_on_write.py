"""Every reader and preprocessing step under pandas' copy-on-write (pandas 3 behaviour).

Under copy-on-write, pandas (and through it neurokit2) hands back read-only arrays:
``np.asarray(series)``, ``series.values`` and ``series.to_numpy()`` are views that cannot
be written. Code that writes into such an array in place fails only with pandas >= 3 (or
with the option on), so a suite run on older releases stayed green while every new user's
``decompose_eda`` failed. Here each public reader and preprocessing function runs with
copy-on-write on, checks its numbers, and hands back data that can be written in place.
A last test makes sure that no new reader or preprocessing function escapes this file.
"""

import datetime as dt
import gzip
import json
import sys
import types

import mne
import numpy as np
import pandas as pd
import pytest
from test_readers import START, VALUES_US, _e4_text  # the same files as the readers' tests

import mne_dyad as md

#: The public functions this file covers; test_every_reader_is_covered keeps it complete.
COVERED = {
    "io.read_raw_e4",
    "io.read_raw_tabular",
    "io.read_raw_bids_physio",
    "io.read_raw_mne",
    "io.read_raw_acq",
    "io.read_segments",
    "io.read_recording",
    "io.read_study",
    "io.combine_dyad",
    "alliance.read_sai",
    "preprocessing.clean_eda",
    "preprocessing.decompose_eda",
    "preprocessing.annotate_artifacts",
    "preprocessing.preprocess_session",
}


@pytest.fixture(autouse=True)
def copy_on_write():
    """Turn copy-on-write on (pandas 2.x); pandas >= 3 has no other mode."""
    if int(pd.__version__.split(".")[0]) >= 3:
        yield
        return
    with pd.option_context("mode.copy_on_write", True):
        yield


def _writable(raw):
    """The data of a Raw can be changed in place, as MNE's own methods do."""
    raw.load_data()
    assert raw._data.flags.writeable
    before = raw.get_data()
    raw.apply_function(lambda x: x * 2.0, picks="all")
    np.testing.assert_allclose(raw.get_data(), 2.0 * before)


def test_fixture_makes_pandas_arrays_read_only():
    """The condition that broke decompose_eda holds here, so the tests below can fail."""
    column = pd.DataFrame({"a": [1.0, 2.0]})["a"]
    assert not np.asarray(column).flags.writeable
    assert not column.to_numpy().flags.writeable


def test_e4(tmp_path):
    (tmp_path / "EDA.csv").write_text(_e4_text())
    (tmp_path / "tags.csv").write_text(f"{START + 10.5}\n")
    raw = md.io.read_raw_e4(tmp_path / "EDA.csv")
    np.testing.assert_allclose(raw.get_data()[0], VALUES_US * 1e-6, atol=1e-12)
    np.testing.assert_allclose(raw.annotations.onset - raw.first_time, [10.5])
    _writable(raw)
    raw = md.io.read_recording(tmp_path / "EDA.csv")
    np.testing.assert_allclose(raw.get_data()[0], VALUES_US * 1e-6, atol=1e-12)


def test_tabular(tmp_path):
    path = tmp_path / "eda.csv"
    t = np.arange(320) / 32.0
    rows = "".join(f"{a},{b * 1000:.6f}\n" for a, b in zip(t, VALUES_US[:320]))
    path.write_text("time,EDA_nS\n" + rows)
    raw = md.io.read_raw_tabular(path, time_column="time", unit="nS")
    assert raw.info["sfreq"] == pytest.approx(32.0)
    np.testing.assert_allclose(raw.get_data()[0], VALUES_US[:320] * 1e-6, atol=1e-12)
    _writable(raw)


def test_bids_physio(tmp_path):
    path = tmp_path / "sub-01_task-therapy_physio.tsv.gz"
    with gzip.open(path, "wt") as f:
        f.write("".join(f"0.1\t{v}\n" for v in VALUES_US))
    side = {"SamplingFrequency": 8.0, "StartTime": 0.0, "Columns": ["cardiac", "eda"]}
    path.with_name("sub-01_task-therapy_physio.json").write_text(json.dumps(side))
    raw = md.io.read_raw_bids_physio(path)
    np.testing.assert_allclose(raw.get_data()[0], VALUES_US * 1e-6, atol=1e-12)
    _writable(raw)


def test_mne_format(tmp_path):
    info = mne.create_info(["GSR", "EEG1"], 16.0, ["misc", "eeg"])
    src = mne.io.RawArray(np.vstack([VALUES_US * 1e-6, np.zeros(400)]), info, verbose=False)
    path = tmp_path / "lab_raw.fif"
    src.save(path, verbose=False)
    raw = md.io.read_raw_mne(path, channel="GSR")
    np.testing.assert_allclose(raw.get_data()[0], VALUES_US * 1e-6, rtol=1e-6)
    _writable(raw)


def test_acq(tmp_path, monkeypatch):
    path = tmp_path / "s1.acq"
    path.write_bytes(b"stand-in")
    channel = types.SimpleNamespace(
        name="EDA", units="microsiemens", data=VALUES_US.copy(), samples_per_second=100.0
    )
    datafile = types.SimpleNamespace(
        channels=[channel],
        samples_per_second=100.0,
        event_markers=[],
        earliest_marker_created_at=None,
    )
    module = types.SimpleNamespace(read_file=lambda p: datafile)
    monkeypatch.setitem(sys.modules, "bioread", module)
    raw = md.io.read_raw_acq(path)
    np.testing.assert_allclose(raw.get_data()[0], VALUES_US * 1e-6, atol=1e-12)
    _writable(raw)


def test_segments_and_sai(tmp_path):
    info = mne.create_info(["client", "therapist"], 8.0, "gsr")
    raw = mne.io.RawArray(np.full((2, 8 * 600), 2e-6), info, verbose=False)
    raw.set_meas_date(dt.datetime(2019, 5, 6, 14, 0, tzinfo=dt.UTC))
    coding = tmp_path / "coding.csv"
    coding.write_text("segment,start,end\nimagery,00:01:00,00:03:30\ncognitive,00:04:00,00:09:00\n")
    ann = md.io.read_segments(coding, raw=raw, mapping={"imagery": "IM", "cognitive": "CB"})
    assert list(ann.description) == ["IM", "CB"]
    np.testing.assert_allclose(ann.onset - raw.first_time, [60.0, 240.0])
    np.testing.assert_allclose(ann.duration, [150.0, 300.0])

    sai = tmp_path / "sai.csv"
    sai.write_text("dyad,session,bond,task,goal\nD1,1,4.0,3.0,2.0\nD1,2,5.0,4.0,3.0\n")
    key = {"bond": ["bond"], "task": ["task"], "goal": ["goal"]}
    scores = md.alliance.read_sai(sai, key=key, scale=(1, 7))
    assert scores.bond.values.tolist() == [[4.0, 5.0]]
    assert scores.goal.values.tolist() == [[2.0, 3.0]]
    values = scores.bond.values
    values[0, 0] = 1.0  # the scores can be edited in place


@pytest.fixture(scope="module")
def session():
    return md.simulation.simulate_session(
        duration=600,
        sfreq=16.0,
        segments=[("IM", 60.0, 240.0), ("CB", 330.0, 240.0)],
        coupling={"IM": 0.9, "CB": 0.0},
        seed=11,
    )


def test_combine_dyad(session):
    client = session.copy().pick(["client"])
    therapist = session.copy().pick(["therapist"]).resample(8.0, verbose=False)
    raw = md.io.combine_dyad(client, therapist)
    assert raw.info["sfreq"] == 8.0 and raw.ch_names == ["client", "therapist"]  # the lower rate
    np.testing.assert_allclose(raw.get_data(picks="therapist")[0], therapist.get_data()[0])
    client_8 = raw.get_data(picks="client")[0]
    assert client_8.size == therapist.n_times and np.isfinite(client_8).all()
    assert np.corrcoef(client_8, session.get_data(picks="client")[0][::2])[0, 1] > 0.99
    _writable(raw)


@pytest.mark.parametrize("method", ["highpass", "smoothmedian"])
def test_preprocessing(session, method):
    raw = session.copy()
    raw._data[0, 1000:1100] = np.nan  # a gap that must stay a gap
    clean = md.preprocessing.clean_eda(raw)
    parts = md.preprocessing.decompose_eda(clean, method=method)
    x = clean.get_data(picks="client-clean")[0]
    tonic = parts.get_data(picks="client-tonic")[0]
    phasic = parts.get_data(picks="client-phasic")[0]
    assert np.isnan(x[1000:1100]).all() and np.isnan(tonic[1000:1100]).all()
    ok = np.isfinite(x)
    # the running median splits exactly; the two filters of "highpass" to within 1%
    rtol = 1e-12 if method == "smoothmedian" else 0.01
    np.testing.assert_allclose(tonic[ok] + phasic[ok], x[ok], rtol=rtol)
    assert np.nanstd(phasic) > 0
    by_steps = md.preprocessing.preprocess_session(raw, clean=True, decompose=method)
    np.testing.assert_allclose(by_steps.get_data(picks="client-tonic")[0][ok], tonic[ok])
    _writable(parts)
    ann = md.preprocessing.annotate_artifacts(parts)
    assert {d for d in ann.description} <= {"BAD_artifact"}
    whole = md.preprocessing.preprocess_session(raw, clean=True, decompose=method)
    _writable(whole)


def test_study(tmp_path, session):
    rows = []
    for s in (1, 2):
        folder = tmp_path / f"s{s}"
        folder.mkdir()
        for role in ("client", "therapist"):
            values = session.get_data(picks=role)[0] * 1e6
            pd.DataFrame({"eda": values}).to_csv(folder / f"{role}.csv", index=False)
        pd.DataFrame(
            {"segment": ["IM", "CB"], "onset": [60.0, 330.0], "duration": [240.0] * 2}
        ).to_csv(folder / "coding.csv", index=False)
        rows.append(f"D1,{s},s{s}/client.csv,s{s}/therapist.csv,s{s}/coding.csv\n")
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("dyad,session,client_file,therapist_file,coding_file\n" + "".join(rows))
    options = {"readers": {"tabular": {"sfreq": 16.0}}, "combine": {"sfreq": 16.0}}
    study = md.io.read_study(manifest, options=options)
    raw = study.raws[("D1", 2)]
    np.testing.assert_allclose(
        raw.get_data(picks="therapist")[0], session.get_data(picks="therapist")[0], atol=1e-11
    )
    assert sorted(raw.annotations.description) == ["CB", "IM"]
    _writable(raw)


def test_every_reader_is_covered():
    """A new reader or preprocessing function must be added to this file."""
    public = {f"io.{n}" for n in md.io.__all__ if n.startswith(("read_", "combine"))}
    public |= {f"preprocessing.{n}" for n in md.preprocessing.__all__}
    public |= {f"alliance.{n}" for n in md.alliance.__all__ if n.startswith("read_")}
    assert public == COVERED
