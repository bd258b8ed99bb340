"""Round trips of every reader on files written in its format, and their errors."""

import datetime as dt
import gzip
import json
import warnings
import zipfile

import mne
import numpy as np
import pytest

import mne_dyad as md

START = 1_600_000_000.0  # 2020-09-13 12:26:40 UTC
VALUES_US = 2.0 + 0.5 * np.sin(np.arange(400) / 20)


def _e4_text(values=VALUES_US, start=START, rate=4.0):
    return f"{start}\n{rate}\n" + "".join(f"{v:.6f}\n" for v in values)


def test_e4_csv_with_tags(tmp_path):
    (tmp_path / "EDA.csv").write_text(_e4_text())
    (tmp_path / "tags.csv").write_text(f"{START + 10.5}\n{START + 60}\n{START + 5000}\n")
    raw = md.io.read_raw_e4(tmp_path / "EDA.csv")
    assert raw.info["sfreq"] == 4.0 and raw.get_channel_types() == ["gsr"]
    assert raw.info["meas_date"] == dt.datetime.fromtimestamp(START, tz=dt.UTC)
    np.testing.assert_allclose(raw.get_data()[0], VALUES_US * 1e-6, atol=1e-12)
    np.testing.assert_allclose(raw.annotations.onset - raw.first_time, [10.5, 60.0])
    assert set(raw.annotations.description) == {"E4_tag"}  # the tag after the end is dropped
    assert md.io.get_session_info(raw)["device"] == "Empatica E4"


def test_e4_zip_export(tmp_path):
    path = tmp_path / "1600000000_A01234.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("EDA.csv", _e4_text())
        zf.writestr("tags.csv", f"{START + 20}\n")
        zf.writestr("BVP.csv", "1\n64\n0\n")
    raw = md.io.read_raw_e4(path)
    np.testing.assert_allclose(raw.get_data()[0], VALUES_US * 1e-6, atol=1e-12)
    assert list(raw.annotations.onset - raw.first_time) == [20.0]


def test_tabular_time_column_and_units(tmp_path):
    path = tmp_path / "eda.csv"
    t = np.arange(320) / 32.0
    rows = "".join(f"{a},{b * 1000:.6f},1\n" for a, b in zip(t, VALUES_US[:320]))
    path.write_text("time,EDA_nS,marker\n" + rows)
    raw = md.io.read_raw_tabular(path, time_column="time", unit="nS")
    assert raw.info["sfreq"] == pytest.approx(32.0)
    np.testing.assert_allclose(raw.get_data()[0], VALUES_US[:320] * 1e-6, atol=1e-12)
    tsv = tmp_path / "eda.tsv"
    tsv.write_text("gsr\n" + "".join(f"{v}\n" for v in VALUES_US))
    raw = md.io.read_raw_tabular(tsv, sfreq=8.0)
    assert raw.n_times == 400 and raw.info["sfreq"] == 8.0


def _bids(tmp_path, columns=("cardiac", "eda"), units=None, values=VALUES_US):
    path = tmp_path / "sub-01_task-therapy_physio.tsv.gz"
    data = np.column_stack([np.zeros(values.size), values])
    with gzip.open(path, "wt") as fid:
        fid.write("".join("\t".join(f"{v}" for v in row) + "\n" for row in data))
    meta = {"SamplingFrequency": 4.0, "StartTime": -1.5, "Columns": list(columns)}
    if units:
        meta["eda"] = {"Units": units}
    path.with_name("sub-01_task-therapy_physio.json").write_text(json.dumps(meta))
    return path


def test_bids_physio(tmp_path):
    raw = md.io.read_raw_bids_physio(_bids(tmp_path))
    np.testing.assert_allclose(raw.get_data()[0], VALUES_US * 1e-6, atol=1e-12)
    assert md.io.get_session_info(raw)["start_time_s"] == -1.5
    raw = md.io.read_raw_bids_physio(_bids(tmp_path, units="nS", values=VALUES_US * 1000))
    np.testing.assert_allclose(raw.get_data()[0], VALUES_US * 1e-6, atol=1e-12)


@pytest.mark.parametrize(
    "fmt, ext", [("edf", ".edf"), ("brainvision", ".vhdr"), ("fif", "_raw.fif")]
)
def test_mne_formats_round_trip(tmp_path, fmt, ext):
    sfreq = 32.0
    data = np.vstack([np.sin(np.arange(640) / 5) * 1e-4, VALUES_US[np.arange(640) % 400] * 1e-6])
    info = mne.create_info(["ECG", "GSR"], sfreq, ["ecg", "gsr"])
    src = mne.io.RawArray(data, info, verbose=False)
    src.set_meas_date(dt.datetime(2021, 3, 1, 9, 30, tzinfo=dt.UTC))
    src.set_annotations(mne.Annotations([5.0], [10.0], ["IM"]))
    path = tmp_path / f"rec{ext}"
    unit = "S"
    if fmt == "fif":
        src.save(path, verbose=False)
    elif fmt == "edf":
        # as an amplifier writes it, in microsiemens (MNE < 1.11's EDF export labels a
        # gsr channel "uV" and so cannot make this file)
        edfio = pytest.importorskip("edfio")
        signals = [
            edfio.EdfSignal(data[0] * 1e6, sfreq, label="ECG", physical_dimension="uV"),
            edfio.EdfSignal(data[1] * 1e6, sfreq, label="GSR", physical_dimension="uS"),
        ]
        start = src.info["meas_date"]
        edfio.Edf(
            signals,
            recording=edfio.Recording(startdate=start.date()),
            starttime=start.time().replace(tzinfo=None),
            annotations=[edfio.EdfAnnotation(5.0, 10.0, "IM")],
        ).write(path)
        unit = "uS"  # MNE leaves a uS channel unscaled: the reader's unit= converts
    else:
        with warnings.catch_warnings():  # BrainVision: float32 and no siemens unit
            warnings.simplefilter("ignore")
            mne.export.export_raw(path, src, fmt=fmt, verbose=False)
    raw = md.io.read_raw_mne(path, channel="GSR", unit=unit)
    assert raw.ch_names == ["GSR"] and raw.get_channel_types() == ["gsr"]
    assert raw.info["meas_date"] == src.info["meas_date"]
    np.testing.assert_allclose(raw.get_data()[0], data[1], rtol=1e-3, atol=1e-9)
    # BrainVision keeps marker types: "Comment/IM" (map labels when reading segments)
    # (MNE < 1.11 also reads BrainVision's "New Segment/" marker at the start)
    ann = raw.annotations[raw.annotations.description != "New Segment/"]
    assert ann.description.tolist() == ["Comment/IM" if fmt == "brainvision" else "IM"]
    np.testing.assert_allclose(ann.onset - raw.first_time, [5.0], atol=1 / sfreq)


def test_e4_and_amplifier_combine(tmp_path):
    """A 4 Hz wristband and a 32 Hz amplifier starting 30 s later, a clock offset, a gap."""
    (tmp_path / "EDA.csv").write_text(_e4_text(values=np.r_[VALUES_US, VALUES_US]))
    client = md.io.read_raw_e4(tmp_path / "EDA.csv")
    amp = np.r_[VALUES_US, VALUES_US][np.repeat(np.arange(800), 8)] * 1e-6
    amp[32 * 60 : 32 * 70] = np.nan  # a 10 s gap
    therapist = mne.io.RawArray(
        amp[np.newaxis], mne.create_info(["EDA"], 32.0, "gsr"), verbose=False
    )
    therapist.set_meas_date(dt.datetime.fromtimestamp(START + 30, tz=dt.UTC))
    raw = md.io.combine_dyad(client, therapist, offset=0.0, sfreq=None)
    assert raw.info["sfreq"] == 4.0
    assert raw.info["meas_date"] == dt.datetime.fromtimestamp(START + 30, tz=dt.UTC)
    meta = md.io.get_session_info(raw)["alignment"]
    assert meta["cropped"]["client"]["start_s"] == 30.0
    gap = np.isnan(raw.get_data()[1])
    assert gap[4 * 61 : 4 * 69].all() and gap.sum() < 4 * 12


BAD = [
    ("EDA.csv", "", ValueError, "0 non-empty line"),
    ("EDA.csv", "1600000000\nfour\n1\n2\n", ValueError, "first two rows must be"),
    ("EDA.csv", "1600000000\n-4\n1\n2\n", ValueError, "sampling rate row reads -4"),
    ("EDA.csv", "1600000000\n0\n1\n2\n", ValueError, "sampling rate row reads 0"),
    ("EDA.csv", "1600000000\n4\n1.0\nabc\n2.0\n", ValueError, r"'abc' at data row 2"),
    ("EDA.csv", "1600000000\n4\nnan\nnan\nnan\n", ValueError, "every EDA value is missing"),
    (
        "EDA.csv",
        "1600000000\n4\n2000000\n2000000\n2000000\n",
        ValueError,
        "implausible for skin conductance",
    ),
]


@pytest.mark.parametrize("name, text, error, match", BAD)
def test_e4_bad_files(tmp_path, name, text, error, match):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(error, match=match) as info:
        md.io.read_raw_e4(path)
    assert str(path) in str(info.value)


def test_other_bad_files(tmp_path):
    zpath = tmp_path / "session.zip"
    zpath.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ValueError, match="not a readable zip archive"):
        md.io.read_raw_e4(zpath)
    with pytest.raises(FileNotFoundError, match="No E4 file at"):
        md.io.read_raw_e4(tmp_path / "missing.csv")
    table = tmp_path / "t.csv"
    table.write_text("time,eda\n0,1\n0.25,1\n0.25,1\n")
    with pytest.raises(ValueError, match="time 0.25 is duplicated at data row 3"):
        md.io.read_raw_tabular(table, time_column="time")
    table.write_text("time,eda\n0,1\n0.5,1\n0.25,1\n")
    with pytest.raises(ValueError, match="non-monotonic"):
        md.io.read_raw_tabular(table, time_column="time")
    table.write_text("time,eda\n")
    with pytest.raises(ValueError, match="no data rows"):
        md.io.read_raw_tabular(table, sfreq=4.0)
    table.write_text("time,heart\n0,1\n")
    with pytest.raises(ValueError, match="column.* named like EDA"):
        md.io.read_raw_tabular(table, sfreq=4.0)
    table.write_text("eda\n1\n2\n")  # no time column: the rate must be given
    with pytest.raises(ValueError, match="needs sfreq= or time_column="):
        md.io.read_raw_tabular(table)
    path = _bids(tmp_path)
    path.with_name("sub-01_task-therapy_physio.json").unlink()
    with pytest.raises(FileNotFoundError, match="has no JSON sidecar"):
        md.io.read_raw_bids_physio(path)
    path = _bids(tmp_path, columns=("eda",))
    with pytest.raises(ValueError, match="has 2 columns but its sidecar lists 1"):
        md.io.read_raw_bids_physio(path)
    with pytest.raises(ValueError, match="has no channel 'EDA'"):
        src = mne.io.RawArray(np.ones((1, 10)) * 1e-6, mne.create_info(["GSR"], 4.0, "gsr"))
        src.save(tmp_path / "x_raw.fif", verbose=False)
        md.io.read_raw_mne(tmp_path / "x_raw.fif", channel="EDA")


def test_single_column_tables_are_not_split(tmp_path):
    """A one-column table must not be split on a letter by delimiter sniffing."""
    for name in ("eda.csv", "eda.txt"):
        path = tmp_path / name
        path.write_text("eda\n1.5\n2.5\n3.5\n")
        raw = md.io.read_raw_tabular(path, sfreq=2.0)
        np.testing.assert_allclose(raw.get_data()[0], [1.5e-6, 2.5e-6, 3.5e-6])
    semi = tmp_path / "semi.txt"
    semi.write_text("time;eda\n0;1\n0.5;2\n1;3\n")
    assert md.io.read_raw_tabular(semi, time_column="time").info["sfreq"] == 2.0


def test_tabular_wrong_unit_names_the_file_and_the_fix(tmp_path):
    path = tmp_path / "therapist.csv"
    path.write_text("eda\n" + "2.5\n" * 20)  # microsiemens
    with pytest.raises(ValueError) as info:
        md.io.read_raw_tabular(path, sfreq=4.0, unit="S")
    msg = str(info.value)
    assert str(path) in msg and "read as S, the EDA median is 2.5 S" in msg
    assert "smaller unit than S: pass unit= one of ['mS', 'uS', 'nS']" in msg
    path.write_text("eda\n" + "2.5e-12\n" * 20)  # converted to siemens twice
    with pytest.raises(
        ValueError,
        match=r"median \(of its non-zero samples\) is 2.5e-18 S.*larger unit than uS.*"
        r"\['S', 'mS'\].*\[readers.tabular\] unit",
    ):
        md.io.read_raw_tabular(path, sfreq=4.0)


def _timed_table(path, times, values, time_format, header="Time (s),EDA"):
    path.write_text(
        f"{header}\n" + "".join(f"{t:{time_format}},{v:.4f}\n" for t, v in zip(times, values))
    )
    return path


@pytest.mark.parametrize("decimals", [6, 5, 4])
def test_tabular_rate_from_rounded_times(tmp_path, decimals):
    """2048 Hz written with a few decimals: (n - 1) / span, not 1 / median step."""
    n = 2048 * 20
    times = np.arange(n) / 2048
    values = 2.0 + 0.5 * np.sin(times)
    path = _timed_table(tmp_path / "eda.csv", times, values, f".{decimals}f")
    # the old estimate, 1 / median step, was 2049.18 Hz for 6 decimals (0.000488 s)
    assert 1 / np.median(np.diff(np.round(times, 6))) == pytest.approx(2049.18, abs=0.01)
    raw = md.io.read_raw_tabular(path)  # "Time (s)" is found and gives the rate
    assert raw.info["sfreq"] == pytest.approx(2048.0, rel=1e-6)
    assert raw.n_times == n and raw.ch_names == ["EDA"]
    np.testing.assert_allclose(raw.get_data()[0], np.round(values, 4) * 1e-6, atol=1e-13)
    # a consistent sfreq is checked and kept; one 0.1% off is an error naming both
    assert md.io.read_raw_tabular(path, sfreq=2049.0).info["sfreq"] == 2049.0  # 0.05%
    with pytest.raises(ValueError, match=r"gives 2048.000000 Hz but sfreq=2051 Hz"):
        md.io.read_raw_tabular(path, sfreq=2051.0)  # 0.15%


def test_tabular_time_gap_and_sfreq_mismatch(tmp_path):
    times = np.arange(2048 * 20) / 2048
    gap = np.concatenate([times[: 2048 * 10], times[2048 * 11 :]])  # 1 s missing at 10 s
    path = _timed_table(tmp_path / "gap.csv", gap, np.full(gap.size, 2.0), ".6f", "time,eda")
    with pytest.raises(ValueError) as info:
        md.io.read_raw_tabular(path, time_column="time")
    msg = str(info.value)
    assert str(path) in msg and "column 'time' are irregular" in msg
    assert "data row 20481 is at 11 s, 1.00049 s after the row before" in msg
    assert "gap of about 2049 missing sample(s)" in msg and "Resample" in msg
    path = _timed_table(tmp_path / "ok.csv", times, np.full(times.size, 2.0), ".6f", "t,eda")
    with pytest.raises(ValueError) as info:
        md.io.read_raw_tabular(path, sfreq=1000.0)
    msg = str(info.value)
    assert str(path) in msg and "time column 't' gives 2048.000000 Hz but sfreq=1000 Hz" in msg
    assert "[readers.tabular] sfreq" in msg and "[readers.tabular] time_column" in msg
    raw = md.io.read_raw_tabular(path, sfreq=1000.0, time_column=False)  # told to ignore it
    assert raw.info["sfreq"] == 1000.0


def test_tabular_time_and_eda_columns_found_by_name(tmp_path):
    path = tmp_path / "eda.csv"
    path.write_text("Time (s),SCL\n" + "".join(f"{k / 8},{3 + k / 100}\n" for k in range(16)))
    raw = md.io.read_raw_tabular(path)
    assert raw.info["sfreq"] == 8.0  # the time column is not an EDA column ...
    np.testing.assert_allclose(raw.get_data()[0], (3 + np.arange(16) / 100) * 1e-6)
    # ... and an EDA column named like time is not the time column
    path.write_text("timestamp,time_gsr\n" + "".join(f"{k / 4},{2}\n" for k in range(16)))
    assert md.io.read_raw_tabular(path).info["sfreq"] == 4.0
    # a time column in milliseconds (by its name)
    path.write_text("Time (ms),eda\n" + "".join(f"{k * 31.25},{2}\n" for k in range(16)))
    assert md.io.read_raw_tabular(path).info["sfreq"] == 32.0
    # clock times are not sample times: with sfreq= they are left out, with a warning
    path.write_text("time,eda\n" + "".join(f"10:00:{k:02d},2\n" for k in range(16)))
    with pytest.warns(RuntimeWarning, match=r"column 'time' looks like a time.*not used"):
        raw = md.io.read_raw_tabular(path, sfreq=1.0)
    assert raw.info["sfreq"] == 1.0 and raw.n_times == 16
    path.write_text("time,timestamp,eda\n" + "".join(f"{k},{k},2\n" for k in range(16)))
    with pytest.raises(ValueError, match=r"several columns named like time.*pass time_column="):
        md.io.read_raw_tabular(path)
    assert md.io.read_raw_tabular(path, time_column="timestamp").info["sfreq"] == 1.0


def test_tabular_acqknowledge_preamble(tmp_path):
    """A text export with lines before its header; the time column in minutes."""
    eda = 4.0 + np.arange(40) / 1000
    preamble = '"EDA.acq"\n"0.5 msec/sample"\n"2 channels"\n"EDA100C"\n"microsiemens"\n'
    rows = "".join(f"{k * 0.5 / 60000:.9f},{v:.3f},0.01\n" for k, v in enumerate(eda))
    path = tmp_path / "s1.txt"
    path.write_text(preamble + "min,CH1,CH2\n" + rows)
    raw = md.io.read_raw_tabular(path, eda_column="CH1")
    assert raw.info["sfreq"] == 2000.0 and raw.n_times == 40
    np.testing.assert_allclose(raw.get_data()[0], eda * 1e-6)
    # minutes written to 5 decimals repeat at 2000 Hz: the preamble's rate is used
    rows = "".join(f"{k * 0.5 / 60000:.5f},{v:.3f},0.01\n" for k, v in enumerate(eda))
    path.write_text(preamble + "min,CH1,CH2\n" + rows)
    assert md.io.read_raw_tabular(path, eda_column="CH1").info["sfreq"] == 2000.0
    # tab-separated, one column and no time column: the rate of "0.5 msec/sample"
    path.write_text(preamble.replace('"', "") + "EDA\n" + "".join(f"{v:.3f}\n" for v in eda))
    raw = md.io.read_raw_tabular(path)
    assert raw.info["sfreq"] == 2000.0
    np.testing.assert_allclose(raw.get_data()[0], eda * 1e-6)
    # the header line given
    path.write_text("export\n1 channel\nsec\tEDA\n" + "".join(f"{k / 4}\t2\n" for k in range(8)))
    raw = md.io.read_raw_tabular(path, skiprows=2)
    assert raw.info["sfreq"] == 4.0 and raw.n_times == 8
    # data lines that end in a separator the header does not have
    path.write_text(
        preamble + "sec\tCH1\n" + "".join(f"{k / 4}\t{v}\t\n" for k, v in enumerate(eda))
    )
    with pytest.raises(ValueError, match="gives 4.000000 Hz but the file's preamble says"):
        md.io.read_raw_tabular(path, eda_column="CH1")
    raw = md.io.read_raw_tabular(path, eda_column="CH1", sfreq=4.0)
    np.testing.assert_allclose(raw.get_data()[0], eda * 1e-6)
    # a preamble rate that contradicts the time column is an error
    path.write_text(preamble + "sec,CH1\n" + "".join(f"{k / 1000},2\n" for k in range(8)))
    with pytest.raises(ValueError, match=r"gives 1000.000000 Hz but the file's preamble says"):
        md.io.read_raw_tabular(path, eda_column="CH1")


def test_tabular_semicolons_and_decimal_commas(tmp_path):
    path = tmp_path / "eda.csv"
    rows = "".join(f"{k / 4:.2f};{2 + k / 1000:.3f};x\n".replace(".", ",") for k in range(12))
    path.write_text("Zeit;EDA (µS);Marker\n" + rows)  # German export: no time column by name
    raw = md.io.read_raw_tabular(path, sfreq=4.0)
    np.testing.assert_allclose(raw.get_data()[0], (2 + np.arange(12) / 1000) * 1e-6)
    raw = md.io.read_raw_tabular(path, time_column="Zeit", unit="µS")
    assert raw.info["sfreq"] == 4.0
    np.testing.assert_allclose(raw.get_data()[0], (2 + np.arange(12) / 1000) * 1e-6)
    path.write_text('t,eda\n0,"2,5"\n0.5,"2,75"\n')  # quoted decimal commas
    np.testing.assert_allclose(md.io.read_raw_tabular(path).get_data()[0], [2.5e-6, 2.75e-6])
    path.write_text("Zeit;EDA\n0,0;1.234,5\n0,25;2\n")
    with pytest.raises(ValueError, match=r"'1.234,5' at data row 1.*semicolon-separated"):
        md.io.read_raw_tabular(path, sfreq=4.0)
    # one column with decimal commas: no separator in the file, every digit kept
    values = 6.1605 + np.arange(40) / 1e4
    path.write_text("GSR\n" + "".join(f"{v:.4f}\n".replace(".", ",") for v in values))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no pandas ParserWarning, no lost field
        raw = md.io.read_raw_tabular(path, sfreq=1000.0)
    np.testing.assert_allclose(raw.get_data()[0], values * 1e-6, rtol=1e-12)
    # values beyond the header's names would be dropped: an error, not a warning
    path.write_text("t,eda\n" + "".join(f"{k},2.5,{k}\n" for k in range(12)))
    with pytest.raises(ValueError, match="hold more values than the header"):
        md.io.read_raw_tabular(path, sfreq=4.0)


def test_tabular_units_micro_and_implausible_values(tmp_path):
    path = tmp_path / "eda.csv"
    path.write_text("eda\n" + "2.5\n" * 8)
    for unit in ("uS", "\u00b5S", "\u03bcS"):  # ASCII, micro sign, Greek mu
        raw = md.io.read_raw_tabular(path, sfreq=4.0, unit=unit)
        np.testing.assert_allclose(raw.get_data()[0], 2.5e-6)
    # a disconnected channel: negative; or negative for a fifth of the recording
    path.write_text("eda\n" + "-0.02\n" * 8)
    with pytest.raises(ValueError, match=r"is negative: it has a median of -2e-08 S.*disconnected"):
        md.io.read_raw_tabular(path, sfreq=4.0)
    path.write_text("eda\n" + "-1.5\n" * 2 + "2.5\n" * 8)
    with pytest.raises(ValueError, match=r"has 20% of its samples below -0.01 uS"):
        md.io.read_raw_tabular(path, sfreq=4.0)
    # siemens read as microsiemens: 2e-6 "uS" is 2e-12 S
    path.write_text("eda\n" + "".join(f"{2e-6 + k * 1e-8:.3e}\n" for k in range(8)))
    with pytest.raises(ValueError, match=r"median \(of its non-zero samples\) is 2.035e-12 S"):
        md.io.read_raw_tabular(path, sfreq=4.0)
    assert md.io.read_raw_tabular(path, sfreq=4.0, unit="S").get_data().max() < 3e-6
    # real but low EDA passes: 0.01 uS with noise, an E4 settling near zero
    path.write_text("eda\n" + "".join(f"{0.01 + 0.008 * np.sin(k):.4f}\n" for k in range(40)))
    raw = md.io.read_raw_tabular(path, sfreq=4.0)
    assert 0.9e-8 < np.median(raw.get_data()) < 1.1e-8
    path.write_text("eda\n" + "0.000000\n" * 30 + "0.001281\n" * 10)
    assert md.io.read_raw_tabular(path, sfreq=4.0).get_data().max() == pytest.approx(1.281e-9)


def test_combine_dyad_rejects_negative_and_twice_converted_eda():
    info = mne.create_info(["EDA"], 4.0, "gsr")
    good = mne.io.RawArray(np.full((1, 80), 2e-6), info, verbose=False)
    negative = mne.io.RawArray(np.full((1, 80), -1e-7), info, verbose=False)
    with pytest.raises(ValueError, match=r"client's EDA channel 'EDA'.*median of -1e-07 S"):
        md.io.combine_dyad(negative, good)
    partly = good.copy()
    partly._data[0, :20] = -2e-6  # a quarter of it
    with pytest.raises(ValueError, match=r"therapist's .* has 25% of its samples below"):
        md.io.combine_dyad(good, partly)
    twice = mne.io.RawArray(np.full((1, 80), 2e-12), info, verbose=False)
    with pytest.raises(ValueError, match=r"median .* of 2e-12 S.*converted to siemens twice"):
        md.io.combine_dyad(good, twice)


def test_lab_rate_study_of_mixed_formats(tmp_path, check_lab_session):
    """One dyad as a lab writes it: an EDF at 1000 Hz and a 2048 Hz CSV export.

    The client's amplifier writes EDF (16-bit samples over its physical range, so
    steps of about 0.0002 uS) next to an ECG channel; the therapist's device writes
    a table at 2048 Hz with times rounded to 4 decimals. Read through a manifest, the
    rates are 1000.0 and 2048.0 Hz (not 999.99 or 2049.18), both are analysed at 8
    Hz, no artifact is marked, and the IM synchrony is that of the simulated
    session analysed at 8 Hz.
    """
    from scipy.signal import resample_poly

    edfio = pytest.importorskip("edfio")
    lab = md.simulation.simulate_session(
        duration=240,
        sfreq=1000.0,
        segments=[("IM", 10.0, 110.0), ("CB", 125.0, 110.0)],
        coupling={"IM": 0.9, "CB": 0.0},
        noise=0.002,
        seed=8,
    )
    client_us, therapist_us = lab.get_data() * 1e6
    therapist_us = resample_poly(therapist_us, 256, 125)  # the same signal at 2048 Hz
    edfio.Edf(
        [
            edfio.EdfSignal(np.zeros_like(client_us), 1000.0, label="ECG", physical_dimension="uV"),
            edfio.EdfSignal(client_us, 1000.0, label="EDA", physical_dimension="uS"),
        ],
        annotations=[],
    ).write(tmp_path / "client.edf")
    times = np.round(np.arange(therapist_us.size) / 2048.0, 4)
    lines = "\n".join(f"{t:.4f},{v:.4f}" for t, v in zip(times, therapist_us, strict=True))
    (tmp_path / "therapist.csv").write_text("Time (s),EDA (uS)\n" + lines + "\n")
    (tmp_path / "coding.csv").write_text("label,onset,duration\nIM,10,110\nCB,125,110\n")
    (tmp_path / "manifest.csv").write_text(
        "dyad,session,client_file,therapist_file,coding_file\n"
        "L1,1,client.edf,therapist.csv,coding.csv\n"
    )
    config = {"readers": {"mne": {"unit": "uS", "channel": "EDA"}}}
    study = md.io.read_study(
        tmp_path / "manifest.csv", options=md.pipeline.PipelineConfig(config).study_options()
    )
    # EDF always has a start date, the table none: aligned on first samples, said
    with pytest.warns(RuntimeWarning, match=r"only the client's recording .*client.edf has a"):
        raw = study.raws[("L1", 1)]
    check_lab_session(raw, lab, {"client": 1000.0, "therapist": 2048.0})


def test_tabular_implausible_rates_and_several_time_columns(tmp_path):
    path = tmp_path / "eda.csv"
    stamps = 1_715_000_000_000 + np.arange(2000)  # epoch milliseconds at 1000 Hz
    path.write_text("timestamp,EDA\n" + "".join(f"{t},2.5\n" for t in stamps))
    with pytest.raises(
        ValueError,
        match=r"times from 1715000000000 on; read as seconds they give 1 Hz.*epoch stamps in milli",
    ):
        md.io.read_raw_tabular(path)
    path.write_text("Time (ms),EDA\n" + "".join(f"{t},2.5\n" for t in stamps))
    assert md.io.read_raw_tabular(path).info["sfreq"] == 1000.0  # the unit in the name
    # several time-like columns and a given rate: each numeric one is checked
    rows = "".join(f"{k / 2:.1f},{k / 2:.1f},2.5\n" for k in range(40))
    path.write_text("Time (s),timestamp,EDA\n" + rows)
    with pytest.raises(ValueError, match=r"'Time \(s\)' gives 2.000000 Hz but sfreq=3 Hz"):
        md.io.read_raw_tabular(path, sfreq=3.0)
    assert md.io.read_raw_tabular(path, sfreq=2.0).info["sfreq"] == 2.0
    clock = "".join(f"{k / 2:.1f},10:00:{k // 2:02d},2.5\n" for k in range(40))
    path.write_text("Time (s),timestamp,EDA\n" + clock)
    with pytest.warns(RuntimeWarning, match=r"\['timestamp'\] look like times but .* not checked"):
        md.io.read_raw_tabular(path, sfreq=2.0)
