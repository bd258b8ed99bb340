"""Shared pieces of the readers of one person's EDA.

Every reader returns a Raw with one ``gsr`` channel in siemens, ``meas_date`` set
when the file has a start time, and the source file named in the description, so
that :func:`mne_dyad.io.combine_dyad` can align and report on it.
"""

from pathlib import Path

import mne
import numpy as np
import pandas as pd
from mne.utils import _check_option, _validate_type

from .dyad import _EDA_NAME, _check_siemens, _set_session_info

#: Factors from a unit to siemens.
UNITS = {"S": 1.0, "mS": 1e-3, "uS": 1e-6, "µS": 1e-6, "nS": 1e-9}


def _path(path, what):
    _validate_type(path, "path-like", "path")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No {what} file at {path}.")
    return path


def _numeric(values, where, column):
    """Parse a column to float; raise naming the first bad row."""
    parsed = pd.to_numeric(pd.Series(values), errors="coerce")
    bad = (
        parsed.isna()
        & pd.Series(values).notna()
        & (pd.Series(values).astype(str).str.strip().str.lower() != "nan")
    )
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(
            f"{where}: column {column!r} holds {values[row]!r} at data row {row + 1}, which is "
            "not a number. Fix the file (or the column choice)."
        )
    return parsed.to_numpy(float)


def _make_raw(eda, sfreq, *, unit, where, ch_name="EDA", start=None, extra=None):
    """One-channel gsr Raw in siemens from values in ``unit``."""
    _check_option("unit", unit, tuple(UNITS))
    if eda.size < 2:
        raise ValueError(f"{where} holds {eda.size} EDA sample(s); a recording needs more.")
    if not np.isfinite(eda).any():
        raise ValueError(f"{where}: every EDA value is missing (NaN). Check the file.")
    data = eda * UNITS[unit]
    try:
        _check_siemens(data, "person", ch_name, where)
    except ValueError as exc:
        raise ValueError(
            f"{exc} (The reader took the values as {unit}; pass unit= to change.)"
        ) from None
    info = mne.create_info([ch_name], sfreq, ["gsr"])
    raw = mne.io.RawArray(data[np.newaxis], info, verbose=False)
    if start is not None:
        raw.set_meas_date(start)
    _set_session_info(raw, source=where.removeprefix("file "), **(extra or {}))
    return raw


def _pick_column(columns, eda_column, where):
    if eda_column is not None:
        if eda_column not in columns:
            raise ValueError(
                f"{where} has no column {eda_column!r}; its columns are {list(columns)}."
            )
        return eda_column
    found = [c for c in columns if _EDA_NAME.search(str(c))]
    if len(found) != 1:
        raise ValueError(
            f"{where} has {'no' if not found else len(found)} column(s) named like EDA "
            f"({found or list(columns)}); pass eda_column=."
        )
    return found[0]


def table_separator(path):
    """Column separator of a text table: by extension, else sniffed among , tab ;."""
    suffix = Path(path).suffix.lower()
    if suffix in (".tsv", ".tab"):
        return "\t"
    if suffix == ".csv":
        return ","
    import csv

    with open(path, newline="", errors="replace") as fid:
        sample = fid.read(4096)
    try:
        return csv.Sniffer().sniff(sample, delimiters=",\t;").delimiter
    except csv.Error:
        return ","
