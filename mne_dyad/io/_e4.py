"""Empatica E4 wristband exports (EDA.csv, session zip, tags.csv)."""

import datetime as _dt
import zipfile
from pathlib import Path

import mne
import numpy as np
from mne.utils import logger, verbose

from ..utils._docs import fill_doc
from ._base import _make_raw, _numeric, _path


def _e4_from_text(text, where):
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    if len(lines) < 3:
        raise ValueError(
            f"{where} has {len(lines)} non-empty line(s); an E4 EDA.csv has the start time "
            "(Unix seconds), the sampling rate (Hz) and then one value per line."
        )
    head = [line.split(",")[0] for line in lines[:2]]
    try:
        start, sfreq = float(head[0]), float(head[1])
    except ValueError:
        raise ValueError(
            f"{where}: the first two rows must be the start time (Unix seconds) and the "
            f"sampling rate (Hz), got {head!r}. Is this an Empatica E4 EDA.csv?"
        ) from None
    if not np.isfinite(sfreq) or sfreq <= 0:
        raise ValueError(f"{where}: the sampling rate row reads {sfreq}; it must be > 0.")
    if not np.isfinite(start) or start < 0:
        raise ValueError(f"{where}: the start time row reads {start}; it must be Unix seconds.")
    values = _numeric([line.split(",")[0] for line in lines[2:]], where, "EDA")
    return start, sfreq, values


def _e4_tags(text, start):
    times = [float(line.split(",")[0]) for line in text.splitlines() if line.strip()]
    return [t - start for t in times]


@verbose
@fill_doc
def read_raw_e4(path, *, verbose=None):
    r"""Read electrodermal activity recorded by an Empatica E4 wristband.

    Parameters
    ----------
    path : path-like
        The ``EDA.csv`` file (first row the UTC start as Unix seconds, second
        row the sampling rate, then microsiemens values), or the session ``.zip``
        export that holds it. A ``tags.csv`` beside it (or in the zip) becomes
        ``E4_tag`` annotations.
    %(verbose)s

    Returns
    -------
    raw : mne.io.RawArray
        One ``gsr`` channel ``EDA`` in siemens, with ``meas_date`` from the file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import mne_dyad as md
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "EDA.csv"
    >>> _ = path.write_text("1600000000.0\n4.0\n" + "0.5\n" * 40)
    >>> raw = md.io.read_raw_e4(path, verbose=False)
    >>> raw.info["sfreq"], raw.get_data().max()
    (4.0, np.float64(5e-07))
    """
    path = _path(path, "E4")
    where = f"file {path}"
    tags = None
    if path.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(path) as zf:
                names = {Path(n).name: n for n in zf.namelist()}
                if "EDA.csv" not in names:
                    raise ValueError(
                        f"{where} holds no EDA.csv (it has {sorted(names)}); is it an E4 "
                        "session export?"
                    )
                text = zf.read(names["EDA.csv"]).decode("utf-8", errors="replace")
                if "tags.csv" in names:
                    tags = zf.read(names["tags.csv"]).decode("utf-8", errors="replace")
        except zipfile.BadZipFile:
            raise ValueError(f"{where} is not a readable zip archive (truncated?).") from None
        where = f"file {path} (EDA.csv)"
    else:
        text = path.read_text(errors="replace")
        tag_file = path.with_name("tags.csv")
        if tag_file.is_file():
            tags = tag_file.read_text()
    start, sfreq, values = _e4_from_text(text, where)
    meas_date = _dt.datetime.fromtimestamp(start, tz=_dt.UTC)
    raw = _make_raw(
        values,
        sfreq,
        unit="uS",
        where=where,
        start=meas_date,
        extra={"device": "Empatica E4"},
        unit_option=False,
    )
    if tags:
        onsets = [t for t in _e4_tags(tags, start) if 0 <= t <= raw.times[-1]]
        if onsets:
            raw.set_annotations(
                mne.Annotations(onsets, [0.0] * len(onsets), ["E4_tag"] * len(onsets))
            )
        logger.info(f"{len(onsets)} E4 tag(s) read as annotations.")
    return raw
