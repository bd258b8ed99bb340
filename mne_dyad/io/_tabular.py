"""EDA from CSV/TSV tables."""

import csv
import re
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from mne.utils import _validate_type, logger, verbose, warn

from ..utils._checks import _check_positive
from ..utils._docs import fill_doc
from ._base import _DECIMAL_COMMA, _make_raw, _numeric, _path, _pick_column

#: How much of the file's start is read to find its separator and header line.
_HEAD_CHARS = 1 << 16
#: Separators tried in this order; the first that splits the data lines into two or
#: more columns wins (``;`` and tab before ``,``, which may be a decimal comma).
_SEPARATORS = ("\t", ";", ",")
_SEP_NAMES = {"\t": "tab", ";": "semicolon", ",": "comma"}
_NUMBER = re.compile(r"^[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?$")
_DECIMALS = r"^\s*[+-]?\d*(?:\.(\d*))?(?:[eE]([+-]?\d+))?\s*$"
#: Seconds per unit of a time column, from the unit its name gives.
_TIME_UNITS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1.0),
    **dict.fromkeys(("ms", "msec", "msecs", "millisecond", "milliseconds"), 1e-3),
    **dict.fromkeys(("min", "mins", "minute", "minutes"), 60.0),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600.0),
}
#: Names of a time column without "time": a unit alone (AcqKnowledge writes the
#: horizontal scale's unit, ``sec`` or ``min``).
_TIME_BARE = ("sec", "secs", "second", "seconds", "msec", "min", "mins", "minute", "minutes")
_TIME_NAME = re.compile(
    r"^(?:t|times?|timestamps?|time[ _-]stamps?|elapsed[ _-]?time|time[ _-]elapsed)"
    r"(?:\s*[(\[]\s*(?P<unit>[a-z]+)\s*[)\]]|[ _-](?P<suffix>[a-z]+))?$"
)
#: AcqKnowledge's text export starts with its sample interval, e.g. "0.5 msec/sample".
_PREAMBLE_RATE = re.compile(r"(\d+(?:[.,]\d+)?)\s*(msec|ms|sec|s)\s*/\s*sample", re.IGNORECASE)
#: A sample may lie this share of a sample period off the regular grid (clock jitter).
_JITTER = 0.01
#: A time column and ``sfreq`` (or the preamble's rate) may differ by this much.
_RATE_TOLERANCE = 1e-3


def _time_scale(name):
    """Return the seconds per unit of a column named like sample times, else None."""
    key = str(name).strip().strip("\"'").strip().lower()
    if key in _TIME_BARE:
        return _TIME_UNITS[key]
    match = _TIME_NAME.match(key)
    if match is None:
        return None
    unit = match.group("unit") or match.group("suffix")
    return 1.0 if unit is None else _TIME_UNITS.get(unit)


def _read_head(path):
    """Return the first lines of a text file (physical lines, as pandas counts them)."""
    for encoding in ("utf-8-sig", "latin-1"):
        try:
            with open(path, encoding=encoding, newline="") as fid:
                text = fid.read(_HEAD_CHARS)
                complete = not fid.read(1)
            break
        except UnicodeDecodeError:
            continue
    lines = re.split(r"\r\n|\r|\n", text)
    if not complete:
        lines = lines[:-1]  # the last line may be cut
    elif lines and not lines[-1]:
        lines = lines[:-1]
    return lines, encoding


def _fields(line, sep):
    return next(csv.reader([line], delimiter=sep), [])


def _is_number(field):
    field = field.strip()
    return bool(_NUMBER.match(field)) or field.lower() == "nan"


def _is_data(fields):
    """Tell a data line: one field or more is a number (a header or preamble has none)."""
    return any(_is_number(f) for f in fields)


def _layout(lines, sep, skiprows):
    """``(header line index, number of columns)`` with separator ``sep``, or None."""
    rows = [(i, _fields(line, sep)) for i, line in enumerate(lines) if line.strip()]
    if skiprows is not None:
        rows = [(i, f) for i, f in rows if i >= skiprows]
        if not rows:
            return None
        data = [f for _, f in rows[1:51]]
        n = len(rows[0][1])
        if data and sum(len(f) == n for f in data) < 0.9 * len(data):
            return None
        return rows[0][0], n
    counts = Counter(len(f) for _, f in rows if _is_data(f))
    if not counts:
        return None
    n = counts.most_common(1)[0][0]
    for k, (i, f) in enumerate(rows):
        following = [len(g) == n and _is_data(g) for _, g in rows[k + 1 : k + 11]]
        # the next line holds data, and most after it (a bad cell is the reader's error)
        if len(f) == n and following and following[0] and 3 * sum(following) >= 2 * len(following):
            if _is_data(f) and k and not _is_data(rows[k - 1][1]):
                header = rows[k - 1][1]
                if len(header) < n and any(
                    g[len(header) :] != [""] * (n - len(header)) for _, g in rows[k : k + 50]
                ):
                    # the data have values beyond the header's names: a one-column
                    # export with decimal commas ("6,1605" read with ","), or a fault
                    if len(header) == 1 and all(
                        re.match(_DECIMAL_COMMA, line) for line in lines[rows[k][0] :][:50]
                    ):
                        return None
                    raise _Overflow(rows[k - 1][0])
                return rows[k - 1][0], n  # a header with fewer (empty) or more fields
            return i, n
    return None


class _Overflow(Exception):
    """Data lines hold more values than the header (line ``args[0]``) names."""


def _sniff(lines, suffix, skiprows):
    """Find the separator and the header line index of a table."""
    candidates = ("\t",) if suffix in (".tsv", ".tab") else _SEPARATORS
    for sep in candidates:
        layout = _layout(lines, sep, skiprows)
        if layout is not None and layout[1] >= 2:
            return sep, layout[0]
    # a single column: read it with a separator that splits no line (so a decimal
    # comma stays inside its number)
    sep = next((c for c in candidates if not any(c in line for line in lines)), candidates[-1])
    layout = _layout(lines, sep, skiprows)
    header = layout[0] if layout is not None else (skiprows or 0)
    return sep, header


def _preamble_rate(lines):
    """Return the rate of an AcqKnowledge-style "X msec/sample" line, or None."""
    for line in lines:
        match = _PREAMBLE_RATE.search(line)
        if match:
            interval = float(match.group(1).replace(",", "."))
            interval *= 1e-3 if match.group(2).lower() in ("msec", "ms") else 1.0
            if interval > 0:
                return 1.0 / interval, line.strip().strip("\"'")
    return None, None


def _read_table(path, where, skiprows):
    """Read the table as strings; also its separator, header line index and preamble."""
    try:
        lines, encoding = _read_head(path)
    except OSError as exc:
        raise ValueError(f"{where} could not be read ({exc}).") from None
    try:
        sep, header = _sniff(lines, Path(path).suffix.lower(), skiprows)
    except _Overflow as exc:
        raise ValueError(
            f"{where}: its lines hold more values than the header (line {exc.args[0] + 1}) "
            "names; reading it would drop values. Check the file, or pass skiprows= (the "
            "number of lines before the header)."
        ) from None
    how = f"{_SEP_NAMES[sep]}-separated, with the header on line {header + 1}"
    try:
        with warnings.catch_warnings():
            # more fields in a line than header names would drop values: an error
            warnings.simplefilter("error", pd.errors.ParserWarning)
            df = pd.read_csv(
                path, sep=sep, skiprows=header, dtype=str, encoding=encoding, index_col=False
            )
    except pd.errors.ParserWarning:
        raise ValueError(
            f"{where}: some lines hold more values than the header (line {header + 1}) "
            f"names, read as {how}; reading it would drop values. Check the file, or "
            "pass skiprows= (the number of lines before the header)."
        ) from None
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ValueError(
            f"{where} could not be read as a table ({exc}); it was read as {how}. "
            "Check the file, or pass skiprows= (the number of lines before the header)."
        ) from None
    df.columns = [str(c).strip() for c in df.columns]
    if len(df.columns) == 1:
        how = f"one column, with the header on line {header + 1}"
    logger.info(f"Reading {where}: {how}.")
    return df, sep, header, lines[:header]


def _decimal_commas(texts):
    """Write a column's decimal commas (``1,5``) as points (``1.5``).

    In a comma-separated file such a number must have been quoted.
    """
    if not texts.astype(str).str.contains(",", regex=False).any():
        return texts  # the usual case, without a copy of every cell as a Python string
    texts = texts.astype(object)
    strings = texts.where(texts.notna(), "").astype(str)
    comma = strings.str.match(_DECIMAL_COMMA)
    if comma.any():
        texts = texts.where(~comma, strings.str.replace(",", ".", regex=False))
    return texts


#: Rates (Hz) a time column may give for EDA; outside, the times are in another unit.
_PLAUSIBLE_RATES = (0.5, 100_000.0)
#: Times from this many seconds on look like Unix epoch stamps (2001 onwards).
_EPOCH_S = 1e9


def _timed_rate(texts, tcol, where, hint, advice, sfreq, pre_rate, pre_line):
    """Return the rate of time column ``tcol``; raise if it contradicts a declared rate."""
    scale = _time_scale(tcol) or 1.0
    times = _numeric(texts, where, tcol, hint) * scale
    if times.size < 2:
        raise ValueError(f"{where} holds {times.size} EDA sample(s); a recording needs more.")
    try:
        estimated, uncertainty = _rate_from_times(
            times, _decimals(texts), scale, where, tcol, advice
        )
    except ValueError as exc:
        if pre_rate is None or sfreq is not None or "duplicated" not in str(exc):
            raise
        # times rounded too coarsely for the rate, and the preamble states it
        logger.info(f"{exc} Using the rate of the line {pre_line!r} instead.")
        return pre_rate
    low, high = _PLAUSIBLE_RATES
    # epoch stamps in milliseconds read as seconds: a 1000 Hz recording at 1 Hz
    epoch_ms = scale == 1.0 and times[0] >= 1000 * _EPOCH_S and estimated <= 2.0
    if epoch_ms or not low <= estimated <= high:
        unit = "seconds" if scale == 1.0 else f"units of {scale:g} s"
        if epoch_ms:
            what = (
                f"holds times from {times[0]:.13g} on; read as {unit} they give "
                f"{estimated:.6g} Hz. These look like Unix epoch stamps in milliseconds"
            )
        else:
            what = (
                f"read as {unit}, gives {estimated:.6g} Hz, implausible for a recording "
                f"(EDA is sampled at {low:g} Hz to {high:g} Hz)"
            )
        raise ValueError(
            f"{where}: column {tcol!r} {what}. Name the column with its unit (for "
            "example 'Time (ms)'), or pass sfreq= and time_column=False (in a run's "
            "TOML: [readers.tabular] sfreq and time_column)."
        )
    declared = (sfreq, f"sfreq={sfreq:g} Hz") if sfreq is not None else (pre_rate, "")
    if declared[0] is not None:
        rate, what = declared
        what = what or f"the file's preamble says {pre_line!r} ({rate:g} Hz)"
        if abs(estimated - rate) > (_RATE_TOLERANCE + uncertainty) * rate:
            raise ValueError(
                f"{where}: the time column {tcol!r} gives {estimated:.6f} Hz but "
                f"{what}; they differ by {100 * abs(estimated / rate - 1):.3g}% "
                "(more than 0.1%). If the times are right, pass sfreq= that rate "
                "(in a run's TOML: [readers.tabular] sfreq); if the rate is right, "
                f"{tcol!r} is not the sample times: pass time_column= the right "
                "column or False ([readers.tabular] time_column)."
            )
    return estimated


def _decimals(texts):
    """Count the most decimals among the written numbers (a sample of long columns)."""
    texts = texts.dropna().astype(str)
    if texts.size > 100_000:
        texts = texts.iloc[np.unique(np.linspace(0, texts.size - 1, 100_000).astype(int))]
    texts = texts[texts.str.match(_DECIMALS)]
    parts = texts.str.extract(_DECIMALS)
    digits = parts[0].fillna("").str.len() - pd.to_numeric(parts[1]).fillna(0)
    return int(digits.max()) if digits.size else 0


def _rate_from_times(times, decimals, scale, where, column, advice):
    """Estimate the rate (Hz) and its relative uncertainty from rounded regular times.

    ``times`` are in seconds, written with ``decimals`` decimals of ``scale`` seconds.
    """
    missing = np.flatnonzero(np.isnan(times))
    if missing.size:
        raise ValueError(
            f"{where}: column {column!r} has no time at data row {missing[0] + 1}; every "
            f"row needs its sample time.{advice}"
        )
    step = np.diff(times)
    if np.any(step == 0):
        row = int(np.flatnonzero(step == 0)[0]) + 2
        coarse = (
            f" The times have {decimals} decimal(s), too few for the sampling rate: pass "
            "sfreq= and time_column=False."
            if np.any(step > 0) and 10.0 ** (-decimals) * scale >= np.median(step[step > 0])
            else advice
        )
        raise ValueError(
            f"{where}: time {times[row - 1]} is duplicated at data row {row} (column "
            f"{column!r}).{coarse}"
        )
    if np.any(step < 0):
        row = int(np.flatnonzero(step < 0)[0]) + 2
        raise ValueError(
            f"{where}: time goes backwards at data row {row} (non-monotonic) in column "
            f"{column!r}.{advice}"
        )
    n = times.size
    span = times[-1] - times[0]
    sfreq = (n - 1) / span
    period = span / (n - 1)
    half = 0.5 * 10.0 ** (-decimals) * scale  # the rounding of the written times
    slack = 8 * np.finfo(float).eps * max(abs(times[0]), abs(times[-1])) + _JITTER * period
    resolution = (
        f"; written to {decimals} decimal(s), each time is rounded by up to {half:.2g} s"
        if decimals <= 12
        else ""
    )
    typical = float(np.median(step))
    if 4 * half > period and np.any(np.abs(step - typical) > slack):
        # rounding of more than a quarter step could hide a missing sample
        raise ValueError(
            f"{where}: the sample times in column {column!r} are written to {decimals} "
            f"decimal(s), too coarse to show whether their steps of about {period:.3g} s "
            f"are regular (they vary from {step.min():.6g} to {step.max():.6g} s). Write "
            f"the times with more decimals, or pass sfreq= and time_column=False."
        )
    # each step against the typical one (a step of rounded times is off by up to
    # 2 * half, and so is the median step): finds a gap at its row
    irregular = np.abs(step - typical) > 4 * half + slack
    if irregular.any():
        i = int(np.flatnonzero(irregular)[0])
        kind = (
            f"a gap of about {step[i] / typical - 1:.0f} missing sample(s)"
            if step[i] > 1.5 * typical
            else "a varying step"
        )
        raise ValueError(
            f"{where}: the sample times in column {column!r} are irregular: data row "
            f"{i + 2} is at {times[i + 1]:.10g} s, {step[i]:.6g} s after the row before, "
            f"where the typical step is {typical:.6g} s{resolution}. It looks like "
            f"{kind}. Resample the table to a regular rate first (missing samples as "
            f"empty EDA cells).{advice}"
        )
    # every time against the regular grid through the first and last: finds drift
    off = np.abs(times - (times[0] + np.arange(n) * period))
    drift = off > 2 * half + slack
    if drift.any():
        i = int(np.flatnonzero(drift)[0])
        raise ValueError(
            f"{where}: the sample times in column {column!r} are irregular: from data row "
            f"{i + 1} (time {times[i]:.10g} s) they drift off a regular {sfreq:.6g} Hz grid "
            f"(by up to {off.max():.3g} s{resolution}), as with a varying step. Resample "
            f"the table to a regular rate first.{advice}"
        )
    uncertainty = 4 * half / span  # relative: both ends are rounded
    nearest = round(sfreq)
    if nearest >= 1 and abs(sfreq - nearest) <= max(min(uncertainty, 1e-5), 1e-9) * sfreq:
        sfreq = float(nearest)
    logger.info(
        f"Sampling rate {sfreq:.6f} Hz from the {n} times of column {column!r} "
        f"({decimals} decimal(s))."
    )
    return sfreq, uncertainty


@verbose
@fill_doc
def read_raw_tabular(
    path,
    *,
    sfreq=None,
    time_column=None,
    eda_column=None,
    unit="uS",
    skiprows=None,
    verbose=None,
):
    r"""Read EDA from a CSV or TSV table.

    Parameters
    ----------
    path : path-like
        A ``.csv``, ``.tsv`` or ``.txt`` table with a header row. Its columns may be
        separated by commas, semicolons or tabs (sniffed; ``.tsv`` is always
        tab-separated); in a semicolon- or tab-separated file numbers may have a
        decimal comma (``1,5``).
    sfreq : None | float
        Sampling rate in Hz. Needed unless the table has a time column (or an
        AcqKnowledge ``"X msec/sample"`` line before its header, whose rate is
        used when there is neither). A time column that is found is checked
        against it: they must agree within 0.1 percent.
    time_column : None | str | bool
        Column of sample times; the rate is ``(n - 1) / (last - first time)``.
        The times must increase, without duplicates, at a regular step, as far as
        their rounding shows: each time may lie off the regular grid by half a
        unit of its last written decimal (plus 1 percent of a sample period of jitter),
        so times written with a few decimals are fine but a gap of missing samples
        or a varying step is an error. Times are in seconds, or in the unit the
        name gives (``Time (ms)``, ``time_min``, ``min``). ``None`` (default) uses
        the only column named like time (``time``, ``Time (s)``, ``timestamp``,
        ``t``, ``sec``, ``seconds``, ``min``, ..., case-insensitive) if there is
        one: it gives the rate when ``sfreq`` is None, and is checked against
        ``sfreq`` otherwise; such a column that does not hold numbers (clock times
        such as ``12:00:01``) is not used, with a warning when ``sfreq`` is given.
        ``False`` uses no time column.
    eda_column : None | str
        The EDA column; by default the only column named like EDA/GSR/SC (never
        the time column).
    unit : str
        Unit of the EDA values: ``"uS"`` (default, also ``"µS"`` or ``"μS"``),
        ``"nS"``, ``"mS"`` or ``"S"``.
    skiprows : None | int
        Number of lines before the header line, as in exports with a preamble
        (AcqKnowledge writes the file name, ``"0.5 msec/sample"``, the channels
        ...). ``None`` (default) finds the header: the first line with as many
        fields as the data lines that is followed by lines of numbers.
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
    >>> md.io.read_raw_tabular(path, verbose=False).info["sfreq"]
    4.0
    """
    path = _path(path, "table")
    where = f"file {path}"
    _validate_type(time_column, (None, str, bool), "time_column")
    if time_column is True:
        raise ValueError(
            "time_column=True is not an option: pass the time column's name, None (find "
            "a column named like time) or False (no time column)."
        )
    _validate_type(skiprows, (None, "int-like"), "skiprows")
    if skiprows is not None and skiprows < 0:
        raise ValueError(f"skiprows must be a number of lines >= 0, got {skiprows}.")
    if sfreq is not None:
        sfreq = _check_positive(sfreq, "sfreq")
    df, sep, header, preamble = _read_table(path, where, skiprows)
    if df.empty:
        raise ValueError(f"{where} has a header but no data rows.")
    columns = list(df.columns)
    if isinstance(time_column, str) and time_column not in columns:
        raise ValueError(f"{where} has no time column {time_column!r} (columns: {columns}).")
    if isinstance(time_column, str):
        if time_column == eda_column:
            raise ValueError(
                f"{where}: column {time_column!r} cannot be both the time and the EDA column."
            )
        time_like = [time_column]
    elif time_column is None:
        time_like = [c for c in columns if _time_scale(c) is not None and c != eda_column]
    else:
        time_like = []
    column = _pick_column(columns, eda_column, where, exclude=time_like)
    hint = (
        f" (The file is {_SEP_NAMES[sep]}-separated; write decimals as 1.5 or 1,5, "
        "without thousands separators.)"
        if sep != ","
        else ""
    )
    values = _numeric(_decimal_commas(df[column]), where, column, hint)

    tcol, advice = None, ""
    if isinstance(time_column, str):
        tcol = time_column
    elif time_column is None and len(time_like) == 1:
        tcol = time_like[0]
        advice = f" If column {tcol!r} is not the sample times, pass time_column=False."
        logger.info(f"Column {tcol!r} of {where} read as the sample times.")
    elif time_column is None and len(time_like) > 1:
        if sfreq is None:
            raise ValueError(
                f"{where} has several columns named like time ({time_like}); pass "
                "time_column= the one with the sample times (or sfreq=)."
            )
        unused = []
        for col in time_like:  # each numeric one must agree with sfreq
            texts_k = _decimal_commas(df[col])
            if pd.to_numeric(texts_k, errors="coerce").notna().mean() < 0.99:
                unused.append(col)
                continue
            _timed_rate(texts_k, col, where, hint, "", sfreq, None, None)
        if unused:
            warn(
                f"{where}: columns {unused} look like times but do not hold numbers of "
                f"seconds; they were not checked against sfreq={sfreq:g} Hz."
            )
        logger.info(f"{where}: the time columns {time_like} were checked against sfreq.")
    pre_rate, pre_line = _preamble_rate(preamble)
    estimated = None
    if tcol is not None:
        texts = _decimal_commas(df[tcol])
        if advice:  # found by its name: it may hold clock times
            parsed = pd.to_numeric(texts, errors="coerce")
            bad = parsed.isna() & texts.notna() & (texts.astype(str).str.strip() != "")
            bad &= texts.astype(str).str.strip().str.lower() != "nan"
            if bad.any():
                row = int(np.flatnonzero(bad.to_numpy())[0])
                if sfreq is None and pre_rate is None:
                    raise ValueError(
                        f"{where}: column {tcol!r} looks like the sample times but holds "
                        f"{texts.iloc[row]!r} at data row {row + 1}, not a number of "
                        "seconds. Pass sfreq= (the sampling rate in Hz) instead."
                    )
                warn(
                    f"{where}: column {tcol!r} looks like a time column but holds "
                    f"{texts.iloc[row]!r} at data row {row + 1}, not a number of seconds; "
                    "it was not used (pass time_column=False to silence this)."
                )
                tcol = None
    if tcol is not None:
        estimated = _timed_rate(texts, tcol, where, hint, advice, sfreq, pre_rate, pre_line)
    if sfreq is None:
        sfreq = estimated if estimated is not None else pre_rate
        if sfreq is None:
            raise ValueError(
                f"Reading {where} needs sfreq= or time_column= to know the timing: it has "
                f"no column named like time (time, Time (s), timestamp, sec; columns: "
                f"{columns}) and no 'msec/sample' line before its header."
            )
        if estimated is None:
            logger.info(f"Sampling rate {sfreq:g} Hz from the line {pre_line!r} of {where}.")
    return _make_raw(values, sfreq, unit=unit, where=where, ch_name="EDA", reader="tabular")
