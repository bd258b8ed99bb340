"""Scoring alliance questionnaires (SAI, WAI-SR) into dyad x session scales."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from mne.utils import _check_option, _validate_type, logger, verbose, warn

from ..io._base import _read_text_table
from ..utils._docs import fill_doc
from ..utils._files import _path_hint
from ..utils._imports import _soft_import

#: Item keys and response ranges of the built-in questionnaires.
PRESETS = {
    # Working Alliance Inventory, short revised (Hatcher & Gillaspy 2006), 1-5.
    "wai-sr": {
        "key": {"task": [1, 2, 10, 12], "bond": [3, 5, 7, 9], "goal": [4, 6, 8, 11]},
        "scale": (1, 5),
    },
    # Session Alliance Inventory (Falkenstrom et al. 2015): six WAI-SR items,
    # two per aspect; its two factors are bond and goal/task (``goal_task``).
    # Exports order the items differently: pass your own ``key`` if needed.
    "sai": {
        "key": {"task": [1, 2], "bond": [3, 5], "goal": [4, 6], "goal_task": [1, 2, 4, 6]},
        "scale": (1, 7),
    },
}


_WIDE = (
    re.compile(r"^(?P<item>.+?)[_.](?:s|session)?(?P<session>\d+)$", re.IGNORECASE),
    re.compile(r"^(?:s|session)(?P<session>\d+)[_.](?P<item>.+)$", re.IGNORECASE),
)


def _to_numbers(col):
    """Return a column of strings as numbers when every filled cell is one, else as is."""
    parsed = pd.to_numeric(col, errors="coerce")
    return parsed if parsed.notna().sum() == col.notna().sum() else col


def _read(path, where):
    suffix = path.suffix.lower()
    try:
        if suffix in (".xlsx", ".xls"):
            _soft_import("openpyxl", "Reading .xlsx alliance tables")
            return pd.read_excel(path)
        # numbers parsed as pandas would, after decimal commas are written as points
        return _read_text_table(path).apply(_to_numbers)
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as exc:
        raise ValueError(f"{where} could not be read as a table ({exc}).") from None


def _wide_to_long(df, dyad_col, session_col, where):
    """One row per dyad with item-session columns -> one row per dyad and session."""
    if dyad_col not in df.columns:
        raise ValueError(
            f"{where} has no {dyad_col!r} column (columns: {list(df.columns)}). Pass "
            "dyad_col= to name the dyad column."
        )
    parts = {}
    for col in df.columns:
        if col == dyad_col:
            continue
        match = next((m for m in (p.match(str(col)) for p in _WIDE) if m), None)
        if match is None:
            raise ValueError(
                f"{where}: column {col!r} is not <item>_<session> (wide layout) and there "
                f"is no {session_col!r} column (long layout). Rename the columns or pass "
                "session_col=."
            )
        parts[col] = (match["item"], int(match["session"]))
    long = df.melt(id_vars=[dyad_col], value_vars=list(parts), var_name="_col")
    long[session_col] = long["_col"].map(lambda c: parts[c][1])
    long["_item"] = long["_col"].map(lambda c: parts[c][0])
    out = long.pivot_table(
        index=[dyad_col, session_col],
        columns="_item",
        values="value",
        aggfunc="first",
        dropna=False,
    ).reset_index()
    out.columns.name = None
    out = out.dropna(how="all", subset=[c for c in out.columns if c not in (dyad_col, session_col)])
    logger.info(f"Read a wide alliance table: {len(out)} (dyad, session) rows.")
    return out


def _item_spec(item):
    """``(item, reversed)`` from ``7``, ``-7``, ``"item7"`` or ``"-item7"``."""
    if isinstance(item, str) and item.startswith("-"):
        return item[1:], True
    if isinstance(item, (int, np.integer)) and item < 0:
        return int(-item), True
    return item, False


def _item_columns(df, items, id_cols, where):
    """Map each key item to one column of ``df``."""
    candidates = [c for c in df.columns if c not in id_cols]
    mapping = {}
    for item in items:
        if isinstance(item, str):
            if item not in df.columns:
                raise ValueError(f"{where} has no column {item!r} for item {item!r}.")
            mapping[item] = item
            continue
        hits = [
            c for c in candidates if str(c) == str(item) or re.fullmatch(rf"\D*0*{item}", str(c))
        ]
        if len(hits) != 1:
            raise ValueError(
                f"{where}: item {item} matches {'no' if not hits else 'several'} "
                f"column(s) {hits or candidates}. Name item columns like 'item{item}' "
                "or pass a key with the column names."
            )
        mapping[item] = hits[0]
    return mapping


#: Values of read_sai's layout= and missing_items=.
_LAYOUTS = ("auto", "long", "wide")
_MISSING_ITEMS = ("prorate", "drop")


@verbose
@fill_doc
def read_sai(
    path_or_dataframe,
    *,
    key="sai",
    scale=None,
    dyad_col="dyad",
    session_col="session",
    layout="auto",
    rater=None,
    rater_col=None,
    missing_items="prorate",
    verbose=None,
):
    """Score per-session alliance items into scale means per dyad and session.

    Parameters
    ----------
    path_or_dataframe : path-like | pandas.DataFrame
        A long table with one row per dyad and session: a dyad column, a session
        column and one column per item (``item1``, ``q1``, ``1`` ...); or a wide
        table with one row per dyad and columns ``<item>_<session>`` (``item3_s2``,
        ``q3_2``) or ``s<session>_<item>``. CSV, TSV or XLSX files are read by
        extension.
    key : str | dict
        ``"sai"`` (default), ``"wai-sr"``, or ``{scale_name: [items]}`` where items
        are item numbers or column names; a reverse-keyed item is written negative
        (``-7``) or with a leading minus (``"-item7"``) and counts as
        ``low + high - rating``.
    scale : None | tuple of (int, int)
        Allowed response range ``(low, high)``; ``None`` uses the preset's range
        (SAI 1-7, WAI-SR 1-5), and is required with a custom key.
    dyad_col, session_col : str
        Names of the id columns.
    layout : str
        ``"long"``, ``"wide"`` or ``"auto"`` (wide when there is no session column).
    rater : None | str
        Who rated every row of this table (``"client"``, ``"therapist"``): the
        result gains a ``rater`` dimension with this one label, so that the
        tables of both raters can be joined with ``xarray.concat(..., "rater")``.
    rater_col : None | str
        A column naming each row's rater (long layout): the result has a
        ``rater`` dimension over its values, and a (dyad, session) may have one
        row per rater.
    missing_items : str
        What a blank item cell does to the scales that use it: ``"prorate"``
        (default, the usual rule) scores the scale as the mean of its other items
        when at most one of its items is missing and at least half are present,
        else NaN (so a 2-item scale, as in the SAI, is then scored from its one
        rated item); ``"drop"`` makes the scale NaN for that session. Either way each
        blank cell is a warning naming the dyad, session and item, and the
        session's other scales are kept.
    %(verbose)s

    Returns
    -------
    alliance : xarray.Dataset, dims (dyad, session) or (dyad, session, rater)
        One variable per scale (mean of its items); see ``missing_items`` for
        blank items. Sessions absent from the table are NaN. Item columns of the
        table that the key does not use are a warning (a 12-item WAI-SR read
        with the 6-item SAI key, for example). With ``rater`` or ``rater_col``, the
        ``rater`` dimension says who rated.

    Examples
    --------
    >>> import pandas as pd
    >>> import mne_dyad as md
    >>> df = pd.DataFrame({"dyad": ["A", "A"], "session": [1, 2],
    ...                    "item1": [5, 6], "item2": [5, 6], "item3": [7, 6],
    ...                    "item4": [4, 5], "item5": [7, 6], "item6": [4, 5]})
    >>> sai = md.alliance.read_sai(df, verbose=False)
    >>> sai.bond.values.tolist()
    [[7.0, 6.0]]
    """
    _validate_type(path_or_dataframe, ("path-like", pd.DataFrame), "path_or_dataframe")
    if isinstance(path_or_dataframe, pd.DataFrame):
        df, where = path_or_dataframe.copy(), "The alliance table"
    else:
        path = Path(path_or_dataframe)
        where = f"Alliance file {path}"
        if not path.is_file():
            raise FileNotFoundError(f"{where} does not exist.{_path_hint(path)}")
        df = _read(path, where)
    _validate_type(key, (str, dict), "key")
    if isinstance(key, str):
        preset = PRESETS.get(key.lower())
        if preset is None:
            raise ValueError(f"Unknown key {key!r}: use one of {sorted(PRESETS)} or a dict.")
        key_map = preset["key"]
        scale = preset["scale"] if scale is None else scale
    else:
        if not key or not all(isinstance(v, (list, tuple)) and v for v in key.values()):
            raise ValueError("key must map each scale name to a non-empty list of items.")
        key_map = {str(k): list(v) for k, v in key.items()}
        if scale is None:
            raise ValueError("With a custom key, pass scale=(low, high), the response range.")
    low, high = scale
    _check_option("layout", layout, _LAYOUTS)
    _check_option("missing_items", missing_items, _MISSING_ITEMS)
    _validate_type(rater, (None, str), "rater")
    _validate_type(rater_col, (None, str), "rater_col")
    if rater is not None and rater_col is not None:
        raise ValueError(
            "Pass rater= (one rater for the whole table) or rater_col= (a column of "
            "raters), not both."
        )
    if rater_col is not None and rater_col not in df.columns:
        raise ValueError(
            f"{where} has no rater column {rater_col!r} (columns: {list(df.columns)})."
        )
    if layout == "wide" or (layout == "auto" and session_col not in df.columns):
        if rater_col is not None:
            raise ValueError(
                f"{where}: rater_col= needs the long layout; read each rater's wide table "
                "with rater='<label>' and join them with xarray.concat(..., 'rater')."
            )
        df = _wide_to_long(df, dyad_col, session_col, where)
    if rater is not None:
        rater_col = "__rater__"
        df[rater_col] = rater
    id_cols = [dyad_col, session_col] + ([rater_col] if rater_col is not None else [])
    for col in (dyad_col, session_col):
        if col not in df.columns:
            raise ValueError(
                f"{where} has no {col!r} column (columns: {list(df.columns)}). Pass "
                "dyad_col= / session_col= to name the id columns."
            )
    dup = df.duplicated(id_cols, keep=False)
    if dup.any():
        rows = df.loc[dup, id_cols].drop_duplicates().values.tolist()
        what = "(dyad, session, rater)" if rater_col is not None else "(dyad, session)"
        hint = "" if rater_col is not None else " If two people rated, pass rater_col=."
        raise ValueError(f"{where} has more than one row for {what} {rows}.{hint}")
    key_map = {name: [_item_spec(i) for i in items] for name, items in key_map.items()}
    items = sorted({i for v in key_map.values() for i, _ in v}, key=str)
    cols = _item_columns(df, items, tuple(id_cols), where)
    unused = [
        c
        for c in df.columns
        if c not in id_cols and c not in cols.values() and re.fullmatch(r"\D*\d+", str(c))
    ]
    if unused:
        warn(
            f"{where} has item column(s) {unused} that the key does not use: scales are "
            f"scored from {sorted(cols.values(), key=str)} only. If the table is another "
            "questionnaire (a 12-item WAI-SR, say), pass its key (key='wai-sr'; in a run's "
            "TOML, [alliance] key)."
        )
    ratings, blanks = {}, []
    for item, col in cols.items():
        values = pd.to_numeric(df[col], errors="coerce")
        text = values.isna() & df[col].notna()
        if text.any():
            row = df.loc[text].iloc[0]
            raise ValueError(
                f"{where}: item {item} of dyad {row[dyad_col]}, session "
                f"{row[session_col]} is {row[col]!r}, not a number."
            )
        bad = values.notna() & ((values < low) | (values > high))
        if bad.any():
            row = df.loc[bad].iloc[0]
            raise ValueError(
                f"{where}: dyad {row[dyad_col]}, session {row[session_col]}, item {item} "
                f"is rated {row[col]}, outside the response range {low}-{high}. Fix the "
                "rating or pass the questionnaire's range as scale=(low, high)."
            )
        ratings[item] = values.to_numpy(float)
        for i in np.flatnonzero(values.isna().to_numpy()):
            row = df.iloc[i]
            if not all(pd.isna(row[c]) for c in cols.values()):  # not an unrated session
                blanks.append(f"dyad {row[dyad_col]}, session {row[session_col]}, item {item}")
    if blanks:
        policy = (
            "each scale is the mean of its other items where at most one is missing"
            if missing_items == "prorate"
            else "the scales that use them are NaN for those sessions"
        )
        more = f" and {len(blanks) - 10} more" if len(blanks) > 10 else ""
        warn(
            f"{where}: {len(blanks)} blank item cell(s): {'; '.join(blanks[:10])}{more}. "
            f"With missing_items={missing_items!r} {policy}; the sessions' other scales are "
            "kept ([alliance] missing_items in a run's TOML)."
        )
    dyads = sorted(df[dyad_col].unique())
    sessions = sorted(df[session_col].unique())
    di = np.searchsorted(dyads, df[dyad_col].to_numpy())
    si = np.searchsorted(sessions, df[session_col].to_numpy())
    dyad_dtype = object if isinstance(dyads[0], str) else None
    coords = {"dyad": np.array(dyads, dtype=dyad_dtype), "session": sessions}
    dims, index, shape = ("dyad", "session"), (di, si), (len(dyads), len(sessions))
    if rater_col is not None:
        raters = sorted(str(r) for r in df[rater_col].unique())
        ri = np.searchsorted(raters, df[rater_col].astype(str).to_numpy())
        coords["rater"] = np.array(raters, dtype=object)
        dims, index, shape = (*dims, "rater"), (di, si, ri), (*shape, len(raters))
    out = xr.Dataset(coords=coords)
    for name, specs in key_map.items():
        # reverse-keyed items count as low + high - rating
        stacked = np.column_stack(
            [low + high - ratings[i] if rev else ratings[i] for i, rev in specs]
        )
        scale_items = [f"-{i}" if rev else i for i, rev in specs]
        n_missing = np.isnan(stacked).sum(axis=1)
        n_items = stacked.shape[1]
        if missing_items == "prorate":
            usable = (n_missing <= 1) & (n_items - n_missing >= n_items / 2)
        else:
            usable = n_missing == 0
        with np.errstate(invalid="ignore"):
            means = np.nanmean(np.where(np.isnan(stacked), np.nan, stacked), axis=1)
        grid = np.full(shape, np.nan)
        grid[index] = np.where(usable, means, np.nan)
        n_prorated = int(((n_missing > 0) & usable).sum())
        n_lost = int(((n_missing > 0) & (n_missing < n_items) & ~usable).sum())
        if n_prorated or n_lost:
            logger.info(
                f"{name!r}: {n_prorated} session(s) prorated, {n_lost} NaN for missing items."
            )
        out[name] = (
            dims,
            grid,
            {
                "long_name": f"{name} scale (mean of items {scale_items})",
                "units": "1",
                "valid_range": f"{low}-{high}",
            },
        )
    logger.info(f"Scored {len(df)} sessions of {len(dyads)} dyads on {list(key_map)}.")
    return out
