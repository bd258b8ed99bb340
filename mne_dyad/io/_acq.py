"""EDA from Biopac AcqKnowledge files (through bioread, an optional dependency)."""

import datetime as _dt
from pathlib import Path

import mne
import numpy as np
from mne.utils import logger, verbose

from ..utils._docs import fill_doc
from ..utils._imports import _soft_import
from ._base import _make_raw, _path
from ._units import _EDA_NAME

#: Conductance unit names as AcqKnowledge channels write them, looked up in lower
#: case after ``_unit_key`` (stripped, either micro character as ``u``).
_UNIT_NAMES = {
    **dict.fromkeys(
        (
            "microsiemens",
            "microsiemen",
            "micro siemens",
            "micro-siemens",
            "usiemens",
            "usiemen",
            "umho",
            "umhos",
            "micromho",
            "micromhos",
        ),
        "uS",
    ),
    **dict.fromkeys(("siemens", "siemen", "mho", "mhos"), "S"),
    **dict.fromkeys(("millisiemens", "msiemens", "mmho", "millimho", "millimhos"), "mS"),
    **dict.fromkeys(("nanosiemens", "nsiemens", "nanosiemen"), "nS"),
}
#: Unit symbols, matched with their case: ``uS`` is microsiemens but ``us`` could
#: be microseconds (and ``s``, ``ms``, ``ns`` seconds).
_UNIT_SYMBOLS = {"S": "S", "mS": "mS", "uS": "uS", "nS": "nS"}


def _unit_key(units):
    """Normalise a unit text: strip, both micro characters to ``u``."""
    return str(units).strip().replace("\u00b5", "u").replace("\u03bc", "u")


def _conductance_unit(units, *, lenient=False):
    """Return the ``unit=`` of a channel's units text, or None if not a conductance.

    With ``lenient``, a symbol whose case is ambiguous (``us``, ``US``, ``ns``) is
    read as the conductance it would be with the right case.
    """
    key = _unit_key(units)
    if key in _UNIT_SYMBOLS:
        return _UNIT_SYMBOLS[key]
    if key.lower() in _UNIT_NAMES:
        return _UNIT_NAMES[key.lower()]
    if lenient:
        return {"us": "uS", "ns": "nS"}.get(key.lower())
    return None


def _eda_channel(channels, channel, where):
    names = [ch.name for ch in channels]
    if channel is not None:
        if channel not in names:
            raise ValueError(f"{where} has no channel {channel!r}; its channels are {names}.")
        return channels[names.index(channel)]
    found = [
        ch
        for ch in channels
        if _EDA_NAME.search(ch.name) or _conductance_unit(ch.units) is not None
    ]
    if len(found) != 1:
        raise ValueError(
            f"{where} has {'no' if not found else len(found)} EDA-like channel(s) "
            f"({[ch.name for ch in found] or names}); pass channel=."
        )
    return found[0]


@verbose
@fill_doc
def read_raw_acq(path, *, channel=None, unit=None, verbose=None):
    """Read the EDA channel of a Biopac AcqKnowledge (``.acq``) file.

    Needs the ``bioread`` package (``pip install bioread``).

    Parameters
    ----------
    path : path-like
        The ``.acq`` file.
    channel : None | str
        The EDA channel; by default the only one named like EDA/GSR or with a
        conductance unit.
    unit : None | str
        Unit of the values (``"uS"``, ``"S"``, ...); by default read from the
        channel's units: microsiemens, microsiemen, µS or μS (micro sign or Greek
        mu), uS, µmho/umho, micromho, siemens, mho, nS, nanosiemens, ... (case does
        not matter for the names; for the symbols it does, as ``us`` may be
        microseconds, but the chosen channel's ``us``/``US``/``ns`` is read as
        microsiemens/nanosiemens, and logged; such a channel is not found by its
        unit alone).
    %(verbose)s

    Returns
    -------
    raw : mne.io.RawArray
        One ``gsr`` channel in siemens; event markers become annotations and the
        earliest marker's time, when the file has one, the ``meas_date``.
    """
    path = _path(path, "AcqKnowledge")
    where = f"file {path}"
    bioread = _soft_import("bioread", "read_raw_acq")
    try:
        datafile = bioread.read_file(str(Path(path)))
    except Exception as exc:  # bioread raises many types for broken files
        raise ValueError(f"bioread could not read {where} ({exc}); is it truncated?") from None
    ch = _eda_channel(list(datafile.channels), channel, where)
    if unit is None:
        unit = _conductance_unit(ch.units)
        if unit is None:
            unit = _conductance_unit(ch.units, lenient=True)
            if unit is None:
                raise ValueError(
                    f"{where}: channel {ch.name!r} is in {ch.units!r}, not a conductance "
                    "unit mne-dyad knows; pass unit='uS' (or 'S', 'nS'; in a run's TOML, "
                    "[readers.acq] unit)."
                )
            logger.info(
                f"Channel {ch.name!r} is in {ch.units!r}, read as {unit} (pass unit= if "
                "that is wrong)."
            )
    start = getattr(datafile, "earliest_marker_created_at", None)
    if isinstance(start, _dt.datetime) and start.tzinfo is None:
        start = start.replace(tzinfo=_dt.UTC)
    raw = _make_raw(
        np.asarray(ch.data, float),
        float(ch.samples_per_second),
        unit=unit,
        where=where,
        ch_name=ch.name,
        start=start if isinstance(start, _dt.datetime) else None,
        extra={"device": "Biopac AcqKnowledge"},
        reader="acq",
    )
    graph_rate = float(getattr(datafile, "samples_per_second", ch.samples_per_second))
    markers = [m for m in getattr(datafile, "event_markers", []) or []]
    if markers:
        onsets = [m.sample_index / graph_rate for m in markers]
        keep = [i for i, t in enumerate(onsets) if 0 <= t <= raw.times[-1]]
        raw.set_annotations(
            mne.Annotations(
                [onsets[i] for i in keep],
                [0.0] * len(keep),
                [str(markers[i].text) or "marker" for i in keep],
            )
        )
        logger.info(f"{len(keep)} AcqKnowledge event marker(s) read as annotations.")
    return raw
