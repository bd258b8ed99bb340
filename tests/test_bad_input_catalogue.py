"""Malformed inputs: each raises the documented error, naming the file and the fix."""

import gzip
import json

import mne
import numpy as np
import pandas as pd
import pytest

import mne_dyad as md

E4_OK = "1600000000\n4\n" + "2.0\n" * 40


def _e4(tmp, text, name="EDA.csv"):
    path = tmp / name
    path.write_text(text)
    return path, lambda: md.io.read_raw_e4(path)


def _table(tmp, text, **kwargs):
    path = tmp / "eda.csv"
    path.write_text(text)
    return path, lambda: md.io.read_raw_tabular(path, **kwargs)


def _bids(tmp, columns=("eda",), sidecar=True, payload=None):
    path = tmp / "sub-1_physio.tsv.gz"
    if payload is None:
        with gzip.open(path, "wt") as fid:
            fid.write("2.0\t1\n" * 20)
    else:
        path.write_bytes(payload)
    if sidecar:
        (tmp / "sub-1_physio.json").write_text(
            json.dumps({"SamplingFrequency": 4, "Columns": list(columns)})
        )
    return path, lambda: md.io.read_raw_bids_physio(path)


def _coding(tmp, rows, **kwargs):
    path = tmp / "coding.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    raw = mne.io.RawArray(
        np.full((1, 400), 2e-6), mne.create_info(["EDA"], 4.0, "gsr"), verbose=False
    )
    return path, lambda: md.io.read_segments(path, raw=raw, **kwargs)


def _manifest(tmp, rows=None, text=None, name="manifest.csv"):
    for f in ("a.csv", "b.csv", "c.csv"):
        (tmp / f).write_text("x")
    path = tmp / name
    if text is not None:
        path.write_text(text)
    else:
        pd.DataFrame(rows).to_csv(path, index=False)
    return path, lambda: md.io.read_study(path)


def _sai(tmp, rows):
    path = tmp / "sai.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path, lambda: md.alliance.read_sai(path, key={"bond": [1, 2]}, scale=(1, 7))


ROW = {
    "dyad": "A",
    "session": 1,
    "client_file": "a.csv",
    "therapist_file": "b.csv",
    "coding_file": "c.csv",
}

CASES = {
    "e4 empty file": (lambda t: _e4(t, ""), ValueError, "0 non-empty line"),
    "e4 wrong header rows": (
        lambda t: _e4(t, "time,eda\n0,1\n1,2\n"),
        ValueError,
        "first two rows must be the start time",
    ),
    "e4 text in values": (lambda t: _e4(t, E4_OK + "abc\n"), ValueError, "'abc' at data row 41"),
    "e4 negative rate": (lambda t: _e4(t, "1600000000\n-4\n2\n2\n"), ValueError, "must be > 0"),
    "e4 zero rate": (lambda t: _e4(t, "1600000000\n0\n2\n2\n"), ValueError, "must be > 0"),
    "e4 truncated zip": (
        lambda t: _e4(t, "PK\x03\x04", name="s.zip"),
        ValueError,
        "not a readable zip archive",
    ),
    "e4 all NaN": (
        lambda t: _e4(t, "1600000000\n4\n" + "nan\n" * 10),
        ValueError,
        "every EDA value is missing",
    ),
    "unit off by 1e6": (
        lambda t: _e4(t, "1600000000\n4\n" + "2000000\n" * 10),
        ValueError,
        r"median is 2 S, implausible.*says uS, so the file is probably damaged",
    ),
    "table duplicated timestamps": (
        lambda t: _table(t, "t,eda\n0,1\n0.5,1\n0.5,1\n", time_column="t"),
        ValueError,
        "time 0.5 is duplicated at data row 3",
    ),
    "table non-monotonic time": (
        lambda t: _table(t, "t,eda\n0,1\n1,1\n0.5,1\n", time_column="t"),
        ValueError,
        "goes backwards at data row 3",
    ),
    "table irregular time": (  # 4 Hz, then a step of 0.5 s (one sample missing)
        lambda t: _table(t, "t,eda\n0,1\n0.25,1\n0.5,1\n1.0,1\n1.25,1\n", time_column="t"),
        ValueError,
        r"irregular: data row 4 is at 1 s, 0.5 s after.*gap of about 1 missing.*[Rr]esample",
    ),
    "table times too coarse": (  # whole seconds cannot show a 0.75 Hz step is regular
        lambda t: _table(t, "t,eda\n0,1\n1,1\n3,1\n4,1\n", time_column="t"),
        ValueError,
        "written to 0 decimal.*too coarse.*pass sfreq= and time_column=False",
    ),
    "table varying step": (
        lambda t: _table(
            t, "time,eda\n" + "".join(f"{0.3 * k + 0.05 * (k % 2):.2f},1\n" for k in range(9))
        ),
        ValueError,
        r"irregular: data row 2 is at 0.35 s.*varying step.*time_column=False",
    ),
    "table time contradicts sfreq": (
        lambda t: _table(t, "Time (s),eda\n" + "".join(f"{k / 8},1\n" for k in range(9)), sfreq=4),
        ValueError,
        r"'Time \(s\)' gives 8.000000 Hz but sfreq=4 Hz.*\[readers.tabular\] sfreq.*"
        r"\[readers.tabular\] time_column",
    ),
    "table negative eda": (
        lambda t: _table(t, "eda\n" + "-0.4\n" * 10, sfreq=4.0),
        ValueError,
        r"channel 'EDA' \(read as uS\) is negative: it has a median of -4e-07 S.*disconnected",
    ),
    "table siemens read as uS": (
        lambda t: _table(t, "eda\n" + "2e-06\n" * 10, sfreq=4.0),
        ValueError,
        r"median \(of its non-zero samples\) is 2e-12 S.*pass unit= one of \['S', 'mS'\]",
    ),
    "table text in time column": (
        lambda t: _table(t, "Time,eda\n12:00:00,1\n12:00:01,1\n"),
        ValueError,
        r"'Time' looks like the sample times but holds '12:00:00'.*Pass sfreq=",
    ),
    "table text in numbers": (
        lambda t: _table(t, "eda\n1\ntwo\n3\n", sfreq=4.0),
        ValueError,
        "'two' at data row 2",
    ),
    "table no eda column": (
        lambda t: _table(t, "heart\n1\n2\n", sfreq=4.0),
        ValueError,
        "pass eda_column=",
    ),
    "bids missing sidecar": (
        lambda t: _bids(t, sidecar=False),
        FileNotFoundError,
        "has no JSON sidecar",
    ),
    "bids column mismatch": (
        lambda t: _bids(t, columns=("eda",)),
        ValueError,
        "2 columns but its sidecar lists 1",
    ),
    "bids truncated gzip": (
        lambda t: _bids(t, payload=b"\x1f\x8b\x08\x00broken"),
        ValueError,
        "could not be decompressed",
    ),
    "coding past the end": (
        lambda t: _coding(t, {"label": ["IM"], "onset": [90], "duration": [30]}),
        ValueError,
        "lies outside the 100 s recording",
    ),
    "coding unknown label": (
        lambda t: _coding(t, {"label": ["imagery"], "onset": [0], "duration": [5]}),
        ValueError,
        "Pass mapping=",
    ),
    "coding overlap": (
        lambda t: _coding(t, {"label": ["IM", "CB"], "onset": [0, 5], "duration": [10, 10]}),
        ValueError,
        "overlaps the 'CB' segment",
    ),
    "coding end before start": (
        lambda t: _coding(t, {"label": ["IM"], "start": [50], "end": [40]}),
        ValueError,
        "ends at or before it starts",
    ),
    "manifest duplicate session": (
        lambda t: _manifest(t, [ROW, ROW]),
        ValueError,
        r"lists \(dyad, session\) \[\('A', 1\)\] more than once",
    ),
    "manifest missing file": (
        lambda t: _manifest(t, [{**ROW, "coding_file": "gone.csv"}]),
        FileNotFoundError,
        "row 1 coding_file 'gone.csv'",
    ),
    "manifest bad toml": (
        lambda t: _manifest(t, text="[[session]\n", name="m.toml"),
        ValueError,
        "is not valid TOML",
    ),
    "manifest windows path": (
        lambda t: _manifest(t, [{**ROW, "coding_file": "D01\\c.csv"}]),
        FileNotFoundError,
        r"row 1 coding_file 'D01\\\\c.csv'.*forward slashes \(D01/c.csv\)",
    ),
    "manifest toml backslash path": (
        lambda t: _manifest(
            t, text='[[session]]\ndyad = "A"\nclient_file = "C:\\data\\a.csv"\n', name="m.toml"
        ),
        ValueError,
        r"Line 3 has a backslash in a double-quoted string.*single quotes",
    ),
    "manifest toml escaped path": (
        lambda t: _manifest(
            t,
            text="[[session]]\ndyad = 'A'\nsession = 1\nclient_file = \"C:\\temp\\table.csv\"\n"
            "therapist_file = 'b.csv'\ncoding_file = 'c.csv'\n",
            name="m.toml",
        ),
        FileNotFoundError,
        r"client_file 'C:\\temp\\table.csv'.*holds \\t as control characters",
    ),
    "sai rating out of range": (
        lambda t: _sai(t, {"dyad": ["A"], "session": [1], "item1": [9], "item2": [3]}),
        ValueError,
        r"dyad A, session 1, item 1 is rated 9.*pass the",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input(tmp_path, case):
    build, error, match = CASES[case]
    path, call = build(tmp_path)
    with pytest.raises(error, match=match) as info:
        call()
    assert str(path) in str(info.value), "the message must name the file"
    assert type(info.value) is error  # not a bare KeyError/IndexError from pandas or numpy


def test_catalogue_is_large_enough():
    assert len(CASES) >= 20
