"""EDA from BIDS physiological recordings (*_physio.tsv.gz + JSON sidecar)."""

import gzip
import io
import json

import pandas as pd
from mne.utils import verbose

from ..utils._checks import _check_positive
from ..utils._docs import fill_doc
from ._base import _make_raw, _numeric, _path, _pick_column


@verbose
@fill_doc
def read_raw_bids_physio(path, *, eda_column=None, verbose=None):
    """Read EDA from a BIDS ``*_physio.tsv.gz`` file and its JSON sidecar.

    Parameters
    ----------
    path : path-like
        The ``*_physio.tsv.gz`` (headerless, tab-separated); the sidecar
        ``*_physio.json`` beside it gives ``SamplingFrequency``, ``StartTime``
        and ``Columns`` (and optionally ``{"<column>": {"Units": "uS"}}``).
    eda_column : None | str
        The EDA column name in ``Columns``; by default the only one named like EDA.
    %(verbose)s

    Returns
    -------
    raw : mne.io.RawArray
        One ``gsr`` channel ``EDA`` in siemens; ``StartTime`` is kept in the
        description (``start_time_s``).
    """
    path = _path(path, "BIDS physio")
    where = f"file {path}"
    name = path.name
    if not name.endswith(".tsv.gz"):
        raise ValueError(f"{where} is not a BIDS *_physio.tsv.gz file.")
    sidecar = path.with_name(name[: -len(".tsv.gz")] + ".json")
    if not sidecar.is_file():
        raise FileNotFoundError(f"{where} has no JSON sidecar (expected {sidecar}).")
    try:
        meta = json.loads(sidecar.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"Sidecar {sidecar} is not valid JSON ({exc}).") from None
    missing = [k for k in ("SamplingFrequency", "Columns") if k not in meta]
    if missing:
        raise ValueError(f"Sidecar {sidecar} lacks {missing}; BIDS requires them for physio.")
    sfreq = _check_positive(meta["SamplingFrequency"], "SamplingFrequency")
    columns = list(meta["Columns"])
    column = _pick_column(columns, eda_column, f"sidecar {sidecar}")
    try:
        with gzip.open(path, "rt") as fid:
            text = fid.read()
    except (OSError, EOFError) as exc:
        raise ValueError(f"{where} could not be decompressed ({exc}); is it truncated?") from None
    try:
        df = pd.read_csv(io.StringIO(text), sep="\t", header=None, dtype=str)
    except pd.errors.EmptyDataError:
        raise ValueError(f"{where} holds no data rows.") from None
    if df.shape[1] != len(columns):
        raise ValueError(
            f"{where} has {df.shape[1]} columns but its sidecar lists {len(columns)} ({columns})."
        )
    values = _numeric(df[columns.index(column)].to_numpy(), where, column)
    unit = (
        (meta.get(column) or {}).get("Units", "uS") if isinstance(meta.get(column), dict) else "uS"
    )
    unit = {"microsiemens": "uS", "siemens": "S", "nanosiemens": "nS"}.get(str(unit).lower(), unit)
    return _make_raw(
        values,
        sfreq,
        unit=unit,
        where=where,
        ch_name="EDA",
        extra={"start_time_s": float(meta.get("StartTime", 0.0))},
        unit_option=False,  # the sidecar's Units decide
    )
