"""The AcqKnowledge reader, on a stand-in for bioread's Datafile (bioread cannot write)."""

import datetime as dt
import sys
import types

import numpy as np
import pytest

import mne_dyad as md


def _fake_bioread(monkeypatch, channels, markers=(), start=None):
    datafile = types.SimpleNamespace(
        channels=channels,
        samples_per_second=100.0,
        event_markers=list(markers),
        earliest_marker_created_at=start,
    )
    module = types.SimpleNamespace(read_file=lambda path: datafile)
    monkeypatch.setitem(sys.modules, "bioread", module)


def _channel(name, units, values, rate=100.0):
    return types.SimpleNamespace(
        name=name, units=units, data=np.asarray(values), samples_per_second=rate
    )


def test_read_acq_units_markers_and_start(tmp_path, monkeypatch):
    path = tmp_path / "s1.acq"
    path.write_bytes(b"fake")
    eda = 3.0 + np.sin(np.arange(500) / 30)
    start = dt.datetime(2020, 2, 3, 10, 0)
    _fake_bioread(
        monkeypatch,
        [
            _channel("ECG", "mV", np.zeros(2000), 200.0),
            _channel("EDA100C", "microsiemens", eda, 100.0),
        ],
        markers=[types.SimpleNamespace(sample_index=250, text="IM start")],
        start=start,
    )
    raw = md.io.read_raw_acq(path)
    assert raw.ch_names == ["EDA100C"] and raw.info["sfreq"] == 100.0
    np.testing.assert_allclose(raw.get_data()[0], eda * 1e-6)
    assert raw.info["meas_date"] == start.replace(tzinfo=dt.UTC)
    assert list(raw.annotations.description) == ["IM start"]
    np.testing.assert_allclose(raw.annotations.onset - raw.first_time, [2.5])


def test_read_acq_errors(tmp_path, monkeypatch):
    path = tmp_path / "s1.acq"
    path.write_bytes(b"fake")
    _fake_bioread(monkeypatch, [_channel("A", "V", np.ones(10)), _channel("B", "V", np.ones(10))])
    with pytest.raises(ValueError, match=r"no EDA-like channel.*pass channel="):
        md.io.read_raw_acq(path)
    with pytest.raises(ValueError, match="is in 'V', not a conductance unit"):
        md.io.read_raw_acq(path, channel="A")
    monkeypatch.setitem(sys.modules, "bioread", None)  # not installed
    with pytest.raises(ImportError, match="pip install bioread"):
        md.io.read_raw_acq(path)
