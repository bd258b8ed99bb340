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

from ..utils._files import _path_hint
from ._session import _set_session_info
from ._units import _EDA_NAME, _EDA_RANGE, _NEGATIVE_CAUSE, _negative_finding, _siemens_problem

#: Factors from a unit to siemens; microsiemens may be written with the micro sign
#: (U+00B5) or the Greek mu (U+03BC).
_UNITS = {"S": 1.0, "mS": 1e-3, "uS": 1e-6, "\u00b5S": 1e-6, "\u03bcS": 1e-6, "nS": 1e-9}
_MICRO = ("\u00b5", "\u03bc")


def _path(path, what):
    _validate_type(path, "path-like", "path")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No {what} file at {path}.{_path_hint(path)}")
    return path


def _numeric(values, where, column, hint=""):
    """Parse a column to float; raise naming the first bad row (``hint`` ends the error)."""
    series = values.reset_index(drop=True) if isinstance(values, pd.Series) else pd.Series(values)
    parsed = pd.to_numeric(series, errors="coerce")
    empty = parsed.isna().to_numpy()
    if empty.any():  # which of them were text that is not a number (a NaN cell is fine)
        text = series[empty].astype(str).str.strip().str.lower()
        bad = series[empty].notna().to_numpy() & (text != "nan").to_numpy()
        if bad.any():
            row = int(np.flatnonzero(empty)[np.flatnonzero(bad)[0]])
            raise ValueError(
                f"{where}: column {column!r} holds {series.iloc[row]!r} at data row "
                f"{row + 1}, which is not a number. Fix the file (or the column choice)." + hint
            )
    return parsed.to_numpy(float)


def _make_raw(
    eda,
    sfreq,
    *,
    unit,
    where,
    ch_name="EDA",
    start=None,
    extra=None,
    unit_option=True,
    reader=None,
):
    """One-channel gsr Raw in siemens from values in ``unit``.

    ``unit_option`` says whether the reader takes ``unit=`` (formats with a fixed
    unit, such as the E4's microsiemens, do not); ``reader`` is the reader's key in
    a run's configuration (``[readers.<reader>]``), named in the unit advice.
    """
    _check_option("unit", unit, tuple(_UNITS))
    if eda.size < 2:
        raise ValueError(f"{where} holds {eda.size} EDA sample(s); a recording needs more.")
    if not np.isfinite(eda).any():
        raise ValueError(f"{where}: every EDA value is missing (NaN). Check the file.")
    data = eda * _UNITS[unit]
    problem = _siemens_problem(data)
    if problem is not None:
        raise ValueError(
            _unit_message(problem, unit, where, ch_name, unit_option, reader or "<format>")
        )
    info = mne.create_info([ch_name], sfreq, ["gsr"])
    raw = mne.io.RawArray(data[np.newaxis], info, verbose=False)
    if start is not None:
        raw.set_meas_date(start)
    _set_session_info(raw, source=where.removeprefix("file "), **(extra or {}))
    return raw


def _unit_message(problem, unit, where, ch_name, unit_option, reader):
    """Word the error of :func:`_make_raw` for a ``_siemens_problem``."""
    kind, value = problem
    if kind in ("negative", "negative_share"):
        return (
            f"{where}: EDA channel {ch_name!r} (read as {unit}) is negative: it "
            f"{_negative_finding(kind, value)}, {_NEGATIVE_CAUSE}: check the channel in "
            "the file (and the eda_column/channel choice)."
        )
    guess = "smaller" if kind == "microsiemens" else "larger"
    factor = _UNITS[unit]
    others = [
        u
        for u, f in _UNITS.items()
        if u[0] not in _MICRO and (f < factor if guess == "smaller" else f > factor)
    ]
    what = "the EDA median" + (" (of its non-zero samples)" if kind == "twice" else "")
    size = "large" if kind == "microsiemens" else "small"
    return (
        f"{where}: read as {unit}, {what} is {value:.4g} S, implausible for skin "
        f"conductance ({_EDA_RANGE}; this is too {size}). "
    ) + (
        f"The file's values are probably in a {guess} unit than {unit}"
        + (" (siemens already, converted again)" if guess == "larger" else "")
        + f": pass unit= one of {others} to the reader (in a run's TOML, "
        f"[readers.{reader}] unit)."
        if unit_option
        else f"The format (or its sidecar) says {unit}, so the file is probably "
        "damaged, mislabelled or not an EDA export: check it in a text editor."
    )


def _pick_column(columns, eda_column, where, exclude=()):
    """Return the EDA column: ``eda_column``, else the only one named like EDA.

    Columns in ``exclude`` (such as a time column) are never taken as EDA.
    """
    if eda_column is not None:
        if eda_column not in columns:
            raise ValueError(
                f"{where} has no column {eda_column!r}; its columns are {list(columns)}."
            )
        return eda_column
    found = [c for c in columns if _EDA_NAME.search(str(c)) and c not in exclude]
    if len(found) != 1:
        raise ValueError(
            f"{where} has {'no' if not found else len(found)} column(s) named like EDA "
            f"({found or list(columns)}); pass eda_column=."
        )
    return found[0]


def _table_separator(path):
    """Column separator of a text table: by extension, else sniffed among , tab ;.

    A ``.csv`` whose header line holds more semicolons than commas is
    semicolon-separated (the European export, whose numbers may have decimal
    commas: :func:`_read_text_table` reads them).
    """
    suffix = Path(path).suffix.lower()
    if suffix in (".tsv", ".tab"):
        return "\t"
    if suffix == ".csv":
        with open(path, encoding="utf-8-sig", errors="replace") as fid:
            header = fid.readline()
        return ";" if header.count(";") > header.count(",") else ","
    import csv

    with open(path, newline="", errors="replace") as fid:
        sample = fid.read(4096)
    try:
        return csv.Sniffer().sniff(sample, delimiters=",\t;").delimiter
    except csv.Error:
        return ","


#: A cell holding one number written with a decimal comma (``1,5``, ``-,5``, ``1,5e-3``).
_DECIMAL_COMMA = r"^\s*[+-]?\d*,\d+(?:[eE][+-]?\d+)?\s*$"


def _read_text_table(path, **kwargs):
    """Read a CSV/TSV table as strings with its sniffed separator (see _table_separator).

    In a table that is not comma-separated, numbers with a decimal comma (``30,5``)
    are written with a point.
    """
    sep = _table_separator(path)
    df = pd.read_csv(path, sep=sep, dtype=str, **kwargs)
    if sep != ",":
        commas = df.apply(lambda col: col.str.match(_DECIMAL_COMMA, na=False))
        df = df.mask(commas, df.apply(lambda col: col.str.replace(",", ".", regex=False)))
    return df
