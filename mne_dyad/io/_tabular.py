"""EDA from CSV/TSV tables."""

import numpy as np
import pandas as pd
from mne.utils import verbose

from ..utils._checks import _check_positive
from ..utils._docs import fill_doc
from ._base import _make_raw, _numeric, _path, _pick_column, _table_separator


@verbose
@fill_doc
def read_raw_tabular(
    path, *, sfreq=None, time_column=None, eda_column=None, unit="uS", verbose=None
):
    r"""Read EDA from a CSV or TSV table.

    Parameters
    ----------
    path : path-like
        A ``.csv``, ``.tsv`` or ``.txt`` (tab- or comma-separated) table with a
        header row.
    sfreq : None | float
        Sampling rate in Hz; required unless ``time_column`` is given.
    time_column : None | str
        Column of sample times in seconds; the rate is taken from it (times must
        increase, without duplicates, at a regular step).
    eda_column : None | str
        The EDA column; by default the only column named like EDA/GSR/SC.
    unit : str
        Unit of the EDA values: ``"uS"`` (default), ``"nS"``, ``"mS"`` or ``"S"``.
    %(verbose)s

    Returns
    -------
    raw : mne.io.RawArray
        One ``gsr`` channel ``EDA`` in siemens.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import mne_dyad as md
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "eda.csv"
    >>> _ = path.write_text("time,eda\n" + "".join(f"{t / 4},{2 + t / 100}\n" for t in range(20)))
    >>> md.io.read_raw_tabular(path, time_column="time", verbose=False).info["sfreq"]
    4.0
    """
    path = _path(path, "table")
    where = f"file {path}"
    if sfreq is None and time_column is None:
        raise ValueError(f"Reading {where} needs sfreq= or time_column= to know the timing.")
    try:
        df = pd.read_csv(path, sep=_table_separator(path), dtype=str)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ValueError(f"{where} could not be read as a table ({exc}).") from None
    if df.empty:
        raise ValueError(f"{where} has a header but no data rows.")
    column = _pick_column(df.columns, eda_column, where)
    values = _numeric(df[column].to_numpy(), where, column)
    if time_column is not None:
        if time_column not in df.columns:
            raise ValueError(
                f"{where} has no time column {time_column!r} (columns: {list(df.columns)})."
            )
        times = _numeric(df[time_column].to_numpy(), where, time_column)
        step = np.diff(times)
        if np.any(step == 0):
            row = int(np.flatnonzero(step == 0)[0]) + 2
            raise ValueError(f"{where}: time {times[row - 1]} is duplicated at data row {row}.")
        if np.any(step < 0):
            row = int(np.flatnonzero(step < 0)[0]) + 2
            raise ValueError(f"{where}: time goes backwards at data row {row} (non-monotonic).")
        median = float(np.median(step))
        if np.max(np.abs(step - median)) > 0.01 * median + 1e-9:
            raise ValueError(
                f"{where}: sample times are irregular (steps {step.min():g} to {step.max():g} "
                "s); resample the table to a regular rate first."
            )
        estimated = 1.0 / median
        if sfreq is not None and abs(estimated - sfreq) > 0.01 * sfreq:
            raise ValueError(f"{where}: the time column says {estimated:g} Hz, sfreq={sfreq}.")
        sfreq = estimated if sfreq is None else sfreq
    sfreq = _check_positive(sfreq, "sfreq")
    return _make_raw(values, sfreq, unit=unit, where=where, ch_name="EDA")
