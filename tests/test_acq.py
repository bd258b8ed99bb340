"""The AcqKnowledge reader, on a stand-in for bioread's Datafile (bioread cannot write)."""

import datetime as dt
import sys
import types
from pathlib import Path

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


@pytest.mark.parametrize(
    "units, factor",
    [
        ("\u00b5S", 1e-6),  # micro sign
        ("\u03bcS", 1e-6),  # Greek mu
        ("uS", 1e-6),
        (" Microsiemen ", 1e-6),
        ("\u00b5mho", 1e-6),
        ("\u03bcsiemens", 1e-6),
        ("micromhos", 1e-6),
        ("nS", 1e-9),
        ("nanosiemens", 1e-9),
        ("mho", 1.0),
    ],
)
def test_read_acq_unit_names(tmp_path, monkeypatch, units, factor):
    path = tmp_path / "s1.acq"
    path.write_bytes(b"fake")
    values = {1e-6: 3.0, 1e-9: 3000.0, 1.0: 3e-6}[factor]
    # found by its unit alone (the name is not EDA-like)
    _fake_bioread(
        monkeypatch,
        [_channel("CH1", "mV", np.zeros(50)), _channel("CH2", units, np.full(50, values))],
    )
    raw = md.io.read_raw_acq(path)
    assert raw.ch_names == ["CH2"]
    np.testing.assert_allclose(raw.get_data()[0], 3e-6)


def test_read_acq_ambiguous_units_and_bad_values(tmp_path, monkeypatch):
    path = tmp_path / "s1.acq"
    path.write_bytes(b"fake")
    # "us" may be microseconds: it does not make a channel EDA-like ...
    _fake_bioread(
        monkeypatch, [_channel("CH1", "us", np.full(50, 3.0)), _channel("CH2", "V", np.ones(50))]
    )
    with pytest.raises(ValueError, match="no EDA-like channel"):
        md.io.read_raw_acq(path)
    # ... but the chosen channel's "us" is read as microsiemens
    np.testing.assert_allclose(md.io.read_raw_acq(path, channel="CH1").get_data()[0], 3e-6)
    _fake_bioread(monkeypatch, [_channel("EDA", "s", np.full(50, 3.0))])  # seconds?
    with pytest.raises(
        ValueError, match=r"is in 's', not a conductance unit.*\[readers.acq\] unit"
    ):
        md.io.read_raw_acq(path)
    # a disconnected electrode: negative
    _fake_bioread(monkeypatch, [_channel("EDA100C", "microsiemens", np.full(50, -0.5))])
    with pytest.raises(ValueError) as info:
        md.io.read_raw_acq(path)
    msg = str(info.value)
    assert str(path) in msg and "EDA channel 'EDA100C' (read as uS) is negative" in msg
    assert "has a median of -5e-07 S" in msg and "disconnected" in msg
    # siemens values in a channel labelled microsiemens
    _fake_bioread(monkeypatch, [_channel("EDA100C", "\u03bcS", np.full(50, 2e-6))])
    with pytest.raises(
        ValueError, match=r"is 2e-12 S.*pass unit= one of \['S', 'mS'\].*\[readers.acq\]"
    ):
        md.io.read_raw_acq(path)
    assert md.io.read_raw_acq(path, unit="S").get_data()[0, 0] == 2e-6


def test_lab_rate_acq_through_a_study(tmp_path, monkeypatch, check_lab_session):
    """Biopac stand-ins at 2000 Hz (client) and 1000 Hz (therapist), as a lab records.

    The EDA has the MP160's 0.0015 uS ADC steps and sensor noise, next to a
    2000 Hz ECG channel. Read through a manifest they are analysed at 8 Hz; the
    native rates are kept; no artifact is marked (a per-sample slope test at the
    former 5 uS/s threshold would mark 30% of the quantised 2000 Hz signal, the
    old failure);
    and the IM synchrony is that of the same signals combined at 8 Hz by hand.
    """
    lab = md.simulation.simulate_session(
        duration=360,
        sfreq=2000.0,
        noise=0.0015,
        adc_step=0.0015,
        segments=[("IM", 20.0, 150.0), ("CB", 190.0, 150.0)],
        coupling={"IM": 0.9, "CB": 0.0},
        seed=4,
    )
    client_us, therapist_us = lab.get_data() * 1e6
    therapist_us = therapist_us[::2]  # the therapist's amplifier runs at 1000 Hz
    # a per-sample slope (uS/s) is above the former 5 uS/s jump threshold in 30% of samples
    assert np.mean(np.abs(np.diff(client_us)) * 2000 > 5.0) > 0.25
    files = {
        "c.acq": types.SimpleNamespace(
            channels=[
                _channel("ECG100C", "mV", np.zeros(client_us.size), 2000.0),
                _channel("EDA100C", "\u03bcS", client_us, 2000.0),
            ],
            samples_per_second=2000.0,
            event_markers=[],
            earliest_marker_created_at=None,
        ),
        "t.acq": types.SimpleNamespace(
            channels=[_channel("GSR", "microsiemen", therapist_us, 1000.0)],
            samples_per_second=1000.0,
            event_markers=[],
            earliest_marker_created_at=None,
        ),
    }
    reader = types.SimpleNamespace(read_file=lambda path: files[Path(path).name])
    monkeypatch.setitem(sys.modules, "bioread", reader)
    for name in files:
        (tmp_path / name).write_bytes(b"stand-in")
    (tmp_path / "coding.csv").write_text("label,onset,duration\nIM,20,150\nCB,190,150\n")
    (tmp_path / "manifest.csv").write_text(
        "dyad,session,client_file,therapist_file,coding_file\nL1,1,c.acq,t.acq,coding.csv\n"
    )
    study = md.io.read_study(tmp_path / "manifest.csv")
    raw = study.raws[("L1", 1)]
    check_lab_session(raw, lab, {"client": 2000.0, "therapist": 1000.0})
