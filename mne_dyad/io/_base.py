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

from ._session import _set_session_info
from ._units import _EDA_NAME, _siemens_problem

#: Factors from a unit to siemens.
_UNITS = {"S": 1.0, "mS": 1e-3, "uS": 1e-6, "µS": 1e-6, "nS": 1e-9}


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


def _make_raw(eda, sfreq, *, unit, where, ch_name="EDA", start=None, extra=None, unit_option=True):
    """One-channel gsr Raw in siemens from values in ``unit``.

    ``unit_option`` says whether the reader takes ``unit=`` (formats with a fixed
    unit, such as the E4's microsiemens, do not).
    """
    _check_option("unit", unit, tuple(_UNITS))
    if eda.size < 2:
        raise ValueError(f"{where} holds {eda.size} EDA sample(s); a recording needs more.")
    if not np.isfinite(eda).any():
        raise ValueError(f"{where}: every EDA value is missing (NaN). Check the file.")
    data = eda * _UNITS[unit]
    problem = _siemens_problem(data)
    if problem is not None:
        kind, value = problem
        guess = "smaller" if kind == "microsiemens" else "larger"
        factor = _UNITS[unit]
        others = [
            u
            for u, f in _UNITS.items()
            if u != "µS" and (f < factor if guess == "smaller" else f > factor)
        ]
        raise ValueError(
            f"{where}: read as {unit}, the EDA {'median' if guess == 'smaller' else 'peak'} "
            f"is {value:.4g} S, implausible for skin conductance (about 1e-7 to 1e-4 S). "
            + (
                f"The file's values are probably in a {guess} unit than {unit}: pass "
                f"unit= one of {others} to the reader."
                if unit_option
                else f"The format (or its sidecar) says {unit}, so the file is probably "
                "damaged, mislabelled or not an EDA export: check it in a text editor."
            )
        )
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


def _table_separator(path):
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
