"""EDA from any file MNE-Python reads."""

import mne
from mne.utils import verbose

from ..utils._docs import fill_doc
from ._base import _make_raw, _path


@verbose
@fill_doc
def read_raw_mne(path, *, channel, unit="S", verbose=None):
    """Read the EDA channel of any file MNE reads (EDF, BDF, BrainVision, FIF, ...).

    Parameters
    ----------
    path : path-like
        The recording.
    channel : str
        Name of the EDA channel.
    unit : str
        Unit of the values as MNE returns them: ``"S"`` (default, MNE's unit for
        ``gsr``), or ``"uS"`` etc. when the file stores EDA in another unit that
        MNE does not convert (EDF headers often say "uS").
    %(verbose)s

    Returns
    -------
    raw : mne.io.RawArray
        One ``gsr`` channel named ``channel``, in siemens, with the file's
        ``meas_date`` and annotations.
    """
    path = _path(path, "recording")
    where = f"file {path}"
    try:
        src = mne.io.read_raw(path, preload=False, verbose=False)
    except Exception as exc:  # MNE raises many types for unreadable files
        raise ValueError(f"MNE could not read {where}: {exc}") from None
    if channel not in src.ch_names:
        raise ValueError(f"{where} has no channel {channel!r}; its channels are {src.ch_names}.")
    values = src.get_data(picks=[src.ch_names.index(channel)])[0]
    raw = _make_raw(
        values,
        src.info["sfreq"],
        unit=unit,
        where=where,
        ch_name=channel,
        start=src.info["meas_date"],
    )
    if len(src.annotations):
        ann = src.annotations
        raw.set_annotations(
            mne.Annotations(ann.onset - src.first_time, ann.duration, ann.description)
        )
    return raw
