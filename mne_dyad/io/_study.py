"""A study manifest: which files hold which dyad's session."""

import datetime as _dt
import inspect
import re
import tomllib
import warnings
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
from mne.utils import _validate_type, logger, verbose

from ..utils._docs import fill_doc
from ..utils._files import _path_hint, _toml_problem
from ..utils._warnings import _recorded
from ._acq import read_raw_acq
from ._base import _read_text_table
from ._bids import read_raw_bids_physio
from ._coding import read_segments
from ._dyad import combine_dyad
from ._e4 import read_raw_e4
from ._generic import read_raw_mne
from ._tabular import read_raw_tabular

_REQUIRED = ("dyad", "session", "client_file", "therapist_file", "coding_file")
_FILE_COLUMNS = ("client_file", "therapist_file", "coding_file")


#: The readers a study can use, in the order they are tried: ``{name: (reader,
#: does a file name belong to it?)}``. The name is the key of the reader's options
#: (``[readers.<name>]`` in a run's configuration); a new reader is one entry here.
READERS = {
    "e4": (read_raw_e4, lambda name: name.endswith(".zip") or name == "eda.csv"),
    "bids": (read_raw_bids_physio, lambda name: name.endswith("_physio.tsv.gz")),
    "tabular": (read_raw_tabular, lambda name: name.endswith((".csv", ".tsv", ".txt"))),
    "acq": (read_raw_acq, lambda name: name.endswith(".acq")),
    "mne": (read_raw_mne, lambda name: True),  # EDF, BDF, BrainVision, FIF, ...
}


#: Roles of a manifest's file columns (``<role>_file``, ``<role>_start``, ...).
_ROLES = ("client", "therapist")
#: Optional per-session columns of a manifest.
_SESSION_COLUMNS = ("offset", *(f"{r}_{c}" for r in _ROLES for c in ("start", "sfreq")))


def _role_options(options, role):
    """Reader options for one role: each format's table with its ``<role>`` subtable on top."""
    out = {}
    for kind, table in (options or {}).items():
        table = dict(table)
        own = {r: table.pop(r) for r in _ROLES if isinstance(table.get(r), dict)}
        out[kind] = {**table, **own.get(role, {})}
    return out


def read_recording(path, options=None):
    """Read one person's EDA file with the reader its name calls for.

    ``*.zip`` and ``EDA.csv`` are Empatica E4 exports, ``*_physio.tsv.gz`` BIDS
    physio, other ``.csv``/``.tsv``/``.txt`` tables (``options["tabular"]`` are
    passed to :func:`read_raw_tabular`), ``.acq`` to :func:`read_raw_acq`
    (``options["acq"]``), anything else goes to MNE
    (``options["mne"]``, which needs ``channel``).

    Parameters
    ----------
    path : path-like
        The recording.
    options : None | dict
        Reader options by format: ``{"tabular": {...}, "bids": {...}, "acq":
        {...}, "mne": {...}}`` (the ``[readers.<format>]`` tables of a run's
        configuration).

    Returns
    -------
    raw : mne.io.Raw
        One ``gsr`` channel in siemens.
    """
    options = options or {}
    path = Path(path)
    name = path.name.lower()
    kind = next(k for k, (_, matches) in READERS.items() if matches(name))
    kwargs = dict(options.get(kind, {}))
    if kind == "mne" and "channel" not in kwargs:
        raise ValueError(
            f"Reading {path} with MNE needs the EDA channel name: set "
            "[readers.mne] channel = '...' in the config."
        )
    try:
        return READERS[kind][0](path, verbose=False, **kwargs)
    except ValueError as exc:
        raise _with_toml_keys(exc, f"readers.{kind}", READERS[kind][0]) from None


#: Parameters a study fills itself: never a key of a run's configuration.
_FILLED = {"path", "raw", "client", "therapist", "dyad", "session", "therapist_id", "start"}


def _with_toml_keys(exc, table, func):
    """Return ``exc`` with the TOML keys of the parameters its advice names.

    A reader's error says "pass eda_column=" (a Python call); read through a study
    the same option is a key of ``[table]`` in a run's configuration, which the
    message then names too (not for ``=None``, which TOML cannot write).
    """
    message = str(exc)
    params = inspect.signature(func).parameters
    keys = [
        k
        for k in dict.fromkeys(re.findall(r"\b(\w+)=(?!=|None\b)", message))
        if k in params and k not in _FILLED and k != "verbose"
    ]
    if not keys or f"[{table}]" in message:
        return exc
    named = ", ".join(f"[{table}] {k}" for k in keys)
    return type(exc)(f"{message.rstrip()} (In a run's TOML: {named}.)")


class _NoDate:
    """A stand-in recording without a meas_date, for checking start times early."""

    info = {"meas_date": None}


class _LazySessions(Mapping):
    """``{(dyad, session): raw}`` that reads and combines files on first access.

    A session not read yet can also be read elsewhere: :meth:`_reader` hands out a
    picklable reader, and :meth:`_news` keeps what reading it there said.
    """

    def __init__(self, study):
        self._study = study
        self._cache = {}
        #: ``{key: [message, ...]}``: the warnings of reading each session (a run's
        #: provenance lists them, whenever and wherever the session was first read)
        self.warnings = {}
        #: ``{key: facts}`` of the sessions read elsewhere only
        self.elsewhere = {}

    def __getitem__(self, key):
        if key not in self._cache:
            self._cache[key] = self._peek(key)
        return self._cache[key]

    def _peek(self, key):
        """Return a session, read (with its warnings kept) but not kept if not read before."""
        if key in self._cache:
            return self._cache[key]
        if key in self.warnings:  # shown when first read (elsewhere, or by a check)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return self._study.load_session(key)
        caught = []
        try:
            with _recorded(caught):
                return self._study.load_session(key)
        finally:
            self.warnings[key] = list(dict.fromkeys(str(w.message) for w in caught))

    def __iter__(self):
        return iter(self._study.keys())

    def __len__(self):
        return len(self._study.table)

    def _reader(self, key):
        return None if key in self._cache else _SessionReader(self._study, key)

    def _news(self, key, news):
        first = key not in self.warnings
        if first:
            self.warnings[key] = [said[1] for said in news["warnings"]]
        self.elsewhere.setdefault(key, news["facts"])
        return first

    def _known(self, key):
        return None if key in self._cache else self.elsewhere.get(key)


class _SessionReader:
    """Read one session of a study wherever it is called (pickles as a manifest row)."""

    def __init__(self, study, key):
        rows = study.table[(study.table.dyad == key[0]) & (study.table.session == key[1])]
        if rows.empty:
            raise KeyError(f"The study has no dyad {key[0]!r}, session {key[1]!r}.")
        self._study = Study(rows, None, study.options, study.source)
        self.key = key

    def __call__(self):
        return self._study.load_session(self.key)


class Study:
    """Sessions of a dyadic study, listed by a manifest and read on demand.

    Made by :func:`read_study`; each parameter is kept as an attribute of the
    same name.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per session: ``dyad``, ``session``, ``therapist`` (if given) and
        the absolute paths of ``client_file``, ``therapist_file``, ``coding_file``.
    alliance_file : pathlib.Path | None
        The alliance questionnaire table, if the manifest names one.
    options : None | dict
        Reader, segment and combination options (see :func:`read_study`).
    source : None | pathlib.Path
        The manifest.

    Attributes
    ----------
    raws : mapping
        ``{(dyad, session): raw}``, each session read and combined on first use.
    """

    def __init__(self, table, alliance_file=None, options=None, source=None):
        self.table = table
        self.alliance_file = alliance_file
        self.options = dict(options or {})
        self.source = source
        self.raws = _LazySessions(self)

    def __repr__(self):
        return (
            f"<Study | {self.table.dyad.nunique()} dyads, {len(self.table)} sessions"
            f"{', alliance' if self.alliance_file else ''}>"
        )

    def keys(self):
        """Return the (dyad, session) keys, in manifest order.

        Returns
        -------
        keys : list of tuple
            ``(dyad, session)`` of every session.
        """
        return list(zip(self.table.dyad, self.table.session, strict=True))

    def load_session(self, key):
        """Read, combine and annotate one session (see :func:`read_study`).

        Parameters
        ----------
        key : tuple
            ``(dyad, session)``.

        Returns
        -------
        raw : mne.io.Raw
            The session Raw: both roles' EDA and the coded segments.
        """
        rows = self.table[(self.table.dyad == key[0]) & (self.table.session == key[1])]
        if rows.empty:
            raise KeyError(f"The study has no dyad {key[0]!r}, session {key[1]!r}.")
        row = rows.iloc[0]
        readers = self.options.get("readers", {})
        client, therapist = (_read_role(row, role, readers) for role in _ROLES)
        combine = dict(self.options.get("combine", {}))
        if _given(row, "offset"):
            combine["offset"] = float(row["offset"])  # this session's clock skew
        try:
            raw = combine_dyad(
                client,
                therapist,
                dyad=key[0],
                session=key[1],
                therapist_id=row.get("therapist") if "therapist" in row else None,
                verbose=False,
                **combine,
            )
        except ValueError as exc:
            raise _with_toml_keys(exc, "combine", combine_dyad) from None
        try:
            segments = read_segments(
                row.coding_file, raw=raw, verbose=False, **self.options.get("segments", {})
            )
        except ValueError as exc:
            raise _with_toml_keys(exc, "segments", read_segments) from None
        raw.set_annotations(raw.annotations + segments)  # both on the Raw's clock
        logger.info(f"Loaded dyad {key[0]}, session {key[1]}.")
        return raw


def _given(row, column):
    """Whether a manifest row sets an optional column (present and not blank)."""
    return column in row.index and not pd.isna(row[column]) and str(row[column]).strip() != ""


def _read_role(row, role, readers):
    """Read one role's recording of a manifest row, with the row's own settings."""
    options = _role_options(readers, role)
    path = row[f"{role}_file"]
    if _given(row, f"{role}_sfreq"):
        kind = next(k for k, (_, matches) in READERS.items() if matches(path.name.lower()))
        if kind != "tabular":
            raise ValueError(
                f"Manifest row of dyad {row.dyad}, session {row.session}: {role}_sfreq is "
                f"for tables without a time column, but {path} is read by the {kind!r} "
                "reader, whose files carry their rate. Leave the cell empty."
            )
        options["tabular"] = {**options.get("tabular", {}), "sfreq": float(row[f"{role}_sfreq"])}
    try:
        raw = read_recording(path, options)
    except ValueError as exc:
        message = str(exc)
        # an option of this role only: its own subtable keeps the other role's reading
        message = re.sub(
            r"\[readers\.(\w+)\] (\w+)",
            rf"[readers.\1] \2 (or [readers.\1.{role}] \2 for the {role}'s files only)",
            message,
            count=1,
        )
        if _given(row, f"{role}_sfreq") and "sfreq" in message:
            message += (
                f" This session's rate is the manifest's {role}_sfreq "
                f"({row[f'{role}_sfreq']}, dyad {row.dyad}, session {row.session}): "
                "correct that cell, or clear it to use the file's own times."
            )
        raise ValueError(message) from None
    if _given(row, f"{role}_start"):
        raw.set_meas_date(_start_time(row[f"{role}_start"], raw))
    return raw


def _start_time(value, raw):
    """Return a start clock time as an aware datetime (UTC unless it says otherwise).

    A time of day (``"10:00:05"``) takes the date of the recording's own
    ``meas_date``, or 2000-01-01 when it has none.
    """
    if isinstance(value, str) and ":" in value and not re.search(r"[-/T ]", value.strip()):
        value = _dt.time.fromisoformat(value.strip())
    if isinstance(value, _dt.time):
        base = raw.info["meas_date"] or _dt.datetime(2000, 1, 1, tzinfo=_dt.UTC)
        value = _dt.datetime.combine(base.date(), value)
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    return stamp.to_pydatetime()


def _manifest_table(path):
    suffix = path.suffix.lower()
    if suffix == ".toml":
        text = path.read_text()
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(_toml_problem(f"Manifest {path}", text, exc)) from None
        rows = doc.get("session") or doc.get("sessions")
        if not isinstance(rows, list) or not rows:
            raise ValueError(f"Manifest {path} has no [[session]] tables.")
        return pd.DataFrame(rows), doc.get("alliance_file")
    try:
        table = _read_text_table(path, keep_default_na=False)
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as exc:
        raise ValueError(f"Manifest {path} could not be read as a table ({exc}).") from None
    alliance = None
    if "alliance_file" in table.columns:
        values = {v for v in table.pop("alliance_file") if v}
        if len(values) > 1:
            raise ValueError(f"Manifest {path} names several alliance files {sorted(values)}.")
        alliance = values.pop() if values else None
    return table, alliance


@verbose
@fill_doc
def read_study(manifest, *, options=None, verbose=None):
    """Read a study manifest and check it before any recording is loaded.

    Parameters
    ----------
    manifest : path-like
        A CSV/TSV table with columns ``dyad, session, client_file,
        therapist_file, coding_file`` (and optionally ``therapist`` and an
        ``alliance_file`` column), or a TOML file with ``[[session]]`` tables of
        the same keys and a top-level ``alliance_file``. Paths are relative to
        the manifest's folder. Optional columns set one session's own values
        (an empty cell keeps the run's): ``offset`` (the therapist's clock skew
        in seconds, as ``combine``'s ``offset``), ``client_start`` and
        ``therapist_start`` (each recording's start clock time, ``hh:mm:ss`` on
        the recording's own date or an ISO date-time; UTC unless it says
        otherwise), and ``client_sfreq`` and ``therapist_sfreq`` (the rate of a
        table without a time column).
    options : None | dict
        ``{"readers": {...}, "segments": {...}, "combine": {...}}``: options of
        :func:`read_recording` (per reader: ``tabular``, ``bids``, ``mne``; a
        reader's ``client`` or ``therapist`` subtable holds options for that
        role's files only, for example ``{"tabular": {"therapist":
        {"eda_column": "GSR"}}}``), of
        :func:`read_segments` (``mapping``, ``labels``, ``time_format``,
        ``reference``) and of :func:`combine_dyad` (``sfreq``, the analysis rate,
        8 Hz by default; ``offset``; ``pick``).
    %(verbose)s

    Returns
    -------
    study : Study
        The sessions; ``study.raws[(dyad, session)]`` reads one when first used.
        Pass ``study.raws`` (or the study) to :func:`mne_dyad.synchrony_cube`.
    """
    _validate_type(manifest, "path-like", "manifest")
    path = Path(manifest)
    if not path.is_file():
        raise FileNotFoundError(f"No manifest file at {path}.{_path_hint(manifest)}")
    table, alliance = _manifest_table(path)
    missing = [c for c in _REQUIRED if c not in table.columns]
    if missing:
        raise ValueError(
            f"Manifest {path} lacks column(s) {missing}; it has {list(table.columns)}."
        )
    if table.empty:
        raise ValueError(f"Manifest {path} lists no sessions.")
    table = table.copy()
    table["dyad"] = table["dyad"].astype(str).str.strip()
    sessions = pd.to_numeric(table["session"], errors="coerce")
    if sessions.isna().any():
        row = int(sessions.isna().to_numpy().argmax())
        raise ValueError(
            f"Manifest {path}: session {table.session.iloc[row]!r} in row "
            f"{row + 1} is not a number."
        )
    table["session"] = sessions.astype(int)
    dup = table.duplicated(["dyad", "session"], keep=False)
    if dup.any():
        pairs = sorted(set(zip(table.dyad[dup], table.session[dup], strict=True)))
        raise ValueError(f"Manifest {path} lists (dyad, session) {pairs} more than once.")
    for col in _SESSION_COLUMNS:
        if col not in table.columns:
            continue
        for i, value in enumerate(table[col]):
            if pd.isna(value) or str(value).strip() == "":
                continue
            if col.endswith("_start"):
                try:
                    _start_time(str(value).strip(), _NoDate)
                except ValueError:
                    raise ValueError(
                        f"Manifest {path}: {col} {value!r} in row {i + 1} is not a clock time "
                        "(hh:mm:ss or an ISO date-time such as 2024-05-06T09:00:00)."
                    ) from None
                continue
            number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
            if pd.isna(number) or (col.endswith("_sfreq") and not number > 0):
                what = "a rate in Hz above 0" if col.endswith("_sfreq") else "a number of seconds"
                raise ValueError(f"Manifest {path}: {col} {value!r} in row {i + 1} is not {what}.")
    root = path.parent
    problems, hint = [], ""
    for col in _FILE_COLUMNS:
        resolved = []
        for i, value in enumerate(table[col]):
            target = (root / str(value)).resolve()
            if not str(value).strip() or not target.is_file():
                problems.append(f"row {i + 1} {col} {value!r}")
                hint = hint or _path_hint(value)
            resolved.append(target)
        table[col] = resolved
    if alliance is not None:
        written, alliance = alliance, (root / alliance).resolve()
        if not alliance.is_file():
            problems.append(f"alliance_file {str(alliance)!r}")
            hint = hint or _path_hint(written)
    if problems:
        raise FileNotFoundError(
            f"Manifest {path} names {len(problems)} missing file(s): "
            + "; ".join(problems[:10])
            + (" ..." if len(problems) > 10 else "")
            + ". Paths are relative to the manifest's folder."
            + hint
        )
    study = Study(table, alliance, options, source=path)
    logger.info(f"Read manifest {path}: {study!r}.")
    return study
