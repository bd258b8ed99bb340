"""Segment coding sheets (IM/CB start and end times) as annotations."""

import datetime as _dt
import re
from pathlib import Path

import mne
import numpy as np
import pandas as pd
from mne.utils import _check_option, _validate_type, logger, verbose

from ..utils._docs import fill_doc
from ..utils._files import _path_hint
from ..utils._imports import _soft_import
from ._base import _read_text_table
from ._session import _session_annotations

_CLOCK = re.compile(r"^\s*(?:(\d+):)?(\d{1,2}):(\d{1,2}(?:\.\d*)?)\s*$")
_LABEL_COLUMNS = ("label", "segment", "type", "description", "condition", "code")


def _find(columns, names, where, what, required=True):
    lower = {str(c).strip().lower(): c for c in columns}
    for name in names:
        if name in lower:
            return lower[name]
    if required:
        raise ValueError(
            f"{where} has no {what} column (looked for {list(names)}; it has {list(columns)})."
        )
    return None


def _parse_times(values, time_format, where, column):
    """Seconds from numbers or hh:mm:ss / mm:ss strings; raise naming the row."""
    out = np.empty(len(values))
    for i, value in enumerate(values):
        text = str(value).strip()
        match = _CLOCK.match(text)
        if time_format in ("auto", "clock") and match:
            h, m, s = match.groups()
            out[i] = int(h or 0) * 3600 + int(m) * 60 + float(s)
            continue
        if time_format in ("auto", "seconds"):
            try:
                out[i] = float(text)
                if np.isfinite(out[i]):
                    continue
            except ValueError:
                pass
        raise ValueError(
            f"{where}: {column} {value!r} in data row {i + 1} is not a time in "
            f"{'seconds or hh:mm:ss' if time_format == 'auto' else time_format}."
        )
    return out


def _read_table(path, sheet):
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xls"):
        _soft_import("openpyxl", "Reading .xlsx coding sheets")
        return pd.read_excel(path, sheet_name=sheet or 0, dtype=str)
    return _read_text_table(path)


#: Values of read_segments' time_format= and reference=.
_TIME_FORMATS = ("auto", "seconds", "clock")
_REFERENCES = ("session", "wallclock")


@verbose
@fill_doc
def read_segments(
    path,
    *,
    mapping=None,
    labels=("IM", "CB"),
    time_format="auto",
    reference="session",
    raw=None,
    start=None,
    sheet=None,
    verbose=None,
):
    """Read a coding sheet of segment times into annotations.

    Parameters
    ----------
    path : path-like | pandas.DataFrame
        A CSV, TSV or XLSX table with a label column (``label``, ``segment``,
        ``type``, ``description``, ``condition`` or ``code``) and either
        ``onset`` + ``duration`` or ``start`` + ``end`` (or ``stop``) columns.
    mapping : None | dict
        Coder labels to segment labels, case-insensitive, for example
        ``{"imagery": "IM", "cognitive": "CB"}``.
    labels : None | sequence of str
        The segment labels allowed after mapping (default ``("IM", "CB")``); a
        label outside them is an error that asks for a mapping. ``None``: any.
    time_format : str
        ``"auto"`` (numbers are seconds, ``hh:mm:ss`` or ``mm:ss`` strings are
        clock times), ``"seconds"`` or ``"clock"``.
    reference : str
        ``"session"``: times count from the start of the session recording.
        ``"wallclock"``: times of day (or ISO date-times); they are made relative
        to ``start``, or to ``raw.info["meas_date"]``.
    raw : None | mne.io.Raw
        The session recording: segments must lie inside it, and it gives the
        start for ``reference="wallclock"``.
    start : None | datetime.datetime
        Start of the recording for ``reference="wallclock"`` (timezone-aware).
    sheet : None | str | int
        Sheet of an XLSX file (default: the first).
    %(verbose)s

    Returns
    -------
    annotations : mne.Annotations
        One annotation per segment, sorted by onset. With ``raw``, they are on
        the Raw's own clock (its ``meas_date``, or none), so they add to
        ``raw.annotations`` and to :func:`mne_dyad.preprocessing.annotate_artifacts`
        as they are: ``raw.set_annotations(raw.annotations + segments)``. Without
        ``raw``, onsets count from the start of the recording (``orig_time=None``).

    Examples
    --------
    >>> import pandas as pd
    >>> import mne_dyad as md
    >>> sheet = pd.DataFrame({"segment": ["imagery", "cognitive"],
    ...                       "start": ["00:05:00", "00:20:30"], "end": ["00:12:00", "00:31:00"]})
    >>> ann = md.io.read_segments(sheet, mapping={"imagery": "IM", "cognitive": "CB"})
    >>> ann.description.tolist(), ann.onset.tolist(), ann.duration.tolist()
    (['IM', 'CB'], [300.0, 1230.0], [420.0, 630.0])
    """
    _check_option("time_format", time_format, _TIME_FORMATS)
    _check_option("reference", reference, _REFERENCES)
    _validate_type(mapping, (None, dict), "mapping")
    _validate_type(raw, (None, mne.io.BaseRaw), "raw")
    if isinstance(path, pd.DataFrame):
        df, where = path.astype(str).where(path.notna(), None), "The coding table"
    else:
        _validate_type(path, "path-like", "path")
        path = Path(path)
        where = f"Coding file {path}"
        if not path.is_file():
            raise FileNotFoundError(f"{where} does not exist.{_path_hint(path)}")
        try:
            df = _read_table(path, sheet)
        except (pd.errors.EmptyDataError, pd.errors.ParserError, ValueError) as exc:
            raise ValueError(f"{where} could not be read as a table ({exc}).") from None
    if df.empty:
        raise ValueError(f"{where} has no segment rows.")
    label_col = _find(df.columns, _LABEL_COLUMNS, where, "label")
    dur_col = end_col = None
    onset_col = _find(df.columns, ("onset",), where, "onset", required=False)
    if onset_col is not None:
        dur_col = _find(df.columns, ("duration",), where, "duration")
        if reference == "wallclock":
            raise ValueError(f"{where}: wall-clock coding needs start and end columns.")
    else:
        onset_col = _find(df.columns, ("start", "begin"), where, "onset or start")
        end_col = _find(df.columns, ("end", "stop", "offset"), where, "end")

    def times(column):
        values = df[column].tolist()
        if reference == "wallclock":
            return _wallclock(values, where, column, start, raw)
        return _parse_times(values, time_format, where, column)

    onsets = times(onset_col)
    if dur_col is not None:
        durations = _parse_times(df[dur_col].tolist(), time_format, where, dur_col)
    else:
        durations = times(end_col) - onsets
    bad = np.flatnonzero(durations <= 0)
    if bad.size:
        raise ValueError(
            f"{where}: segment in data row {bad[0] + 1} ends at or before it starts "
            f"(duration {durations[bad[0]]:g} s)."
        )
    descs = _map_labels(df[label_col].tolist(), mapping, labels, where)
    order = np.argsort(onsets, kind="stable")
    onsets, durations = onsets[order], durations[order]
    descs = [descs[i] for i in order]
    rows = order + 1
    for k in range(1, onsets.size):
        if onsets[k] < onsets[k - 1] + durations[k - 1] and descs[k] != descs[k - 1]:
            raise ValueError(
                f"{where}: the {descs[k - 1]!r} segment of data row {rows[k - 1]} "
                f"({onsets[k - 1]:g}-{onsets[k - 1] + durations[k - 1]:g} s) overlaps the "
                f"{descs[k]!r} segment of row {rows[k]} ({onsets[k]:g} s). A moment can "
                "belong to one segment type only: fix the coding."
            )
    if raw is not None:
        end = raw.times[-1] + 1 / raw.info["sfreq"]
        outside = np.flatnonzero((onsets < 0) | (onsets + durations > end + 1e-9))
        if outside.size:
            k = outside[0]
            raise ValueError(
                f"{where}: the {descs[k]!r} segment of data row {rows[k]} "
                f"({onsets[k]:g}-{onsets[k] + durations[k]:g} s) lies outside the "
                f"{end:g} s recording. Check the times, the reference and the file."
            )
    logger.info(
        f"Read {onsets.size} segments: "
        + ", ".join(f"{lab} {descs.count(lab)}" for lab in sorted(set(descs)))
        + "."
    )
    if raw is not None:
        return _session_annotations(raw, onsets, durations, descs)
    return mne.Annotations(onsets, durations, descs)


def _map_labels(values, mapping, labels, where):
    lookup = {str(k).strip().lower(): v for k, v in (mapping or {}).items()}
    out, unknown = [], []
    for value in values:
        text = str(value).strip()
        label = lookup.get(text.lower(), text)
        if labels is not None and label not in labels:
            unknown.append(text)
        out.append(label)
    if unknown:
        raise ValueError(
            f"{where} has label(s) {sorted(set(unknown))} that are not among {list(labels)}. "
            "Pass mapping={'<coder label>': '<segment label>', ...} (or labels=None to "
            "keep every label)."
        )
    return out


def _wallclock(values, where, column, start, raw):
    if start is None:
        if raw is None or raw.info["meas_date"] is None:
            raise ValueError(
                f"{where}: wall-clock times need the recording start: pass start= (a "
                "datetime) or raw= with a meas_date."
            )
        start = raw.info["meas_date"] + _dt.timedelta(seconds=raw.first_time)
    _validate_type(start, _dt.datetime, "start")
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware (for example tzinfo=datetime.UTC).")
    out = np.empty(len(values))
    for i, value in enumerate(values):
        text = str(value).strip()
        match = _CLOCK.match(text)
        if match and match.group(1) is not None:  # a time of day on the start's date
            h, m, s = match.groups()
            day = start.replace(hour=0, minute=0, second=0, microsecond=0)
            when = day + _dt.timedelta(hours=int(h), minutes=int(m), seconds=float(s))
        else:
            try:
                when = _dt.datetime.fromisoformat(text)
            except ValueError:
                raise ValueError(
                    f"{where}: {column} {value!r} in data row {i + 1} is not a wall-clock "
                    "time (hh:mm:ss or an ISO date-time)."
                ) from None
            if when.tzinfo is None:
                when = when.replace(tzinfo=start.tzinfo)
        out[i] = (when - start).total_seconds()
    return out
