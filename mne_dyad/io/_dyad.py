"""Combine two people's recordings into one dyadic session Raw."""

import datetime as _dt

import mne
import numpy as np
from mne.utils import _validate_type, logger, verbose, warn

from ..utils._checks import _check_positive
from ..utils._docs import fill_doc
from ..utils._signal import ANALYSIS_SFREQ, _resample_nan_aware
from ._session import (
    _describe,
    _session_annotations,
    _session_roles,
    _set_session_info,
    get_session_info,
)
from ._units import _EDA_NAME, _EDA_RANGE, _NEGATIVE_CAUSE, _negative_finding, _siemens_problem

#: Share of a recording cropped to the common span above which combining warns.
_CROP_WARN = 0.02


def _pick_eda(raw, role, pick):
    """Return the name of the EDA channel of ``raw``."""
    where = _describe(raw)
    if pick is not None:
        if pick not in raw.ch_names:
            raise ValueError(
                f"Channel {pick!r} requested for the {role} is not in the {where}; "
                f"its channels are {raw.ch_names}."
            )
        return pick
    gsr = [raw.ch_names[i] for i in mne.pick_types(raw.info, gsr=True, exclude=[])]
    candidates = gsr or [ch for ch in raw.ch_names if _EDA_NAME.search(ch)]
    if len(candidates) != 1:
        what = "no" if not candidates else f"{len(candidates)}"
        raise ValueError(
            f"The {role}'s {where} has {what} EDA channel candidates "
            f"({candidates or raw.ch_names}). Pass pick='<channel name>' (or a "
            "(client_channel, therapist_channel) tuple) to say which one holds the EDA."
        )
    return candidates[0]


def _check_siemens(data, role, ch_name, where):
    """Raise if EDA values cannot be skin conductance in siemens."""
    problem = _siemens_problem(data)
    if problem is None:
        return
    kind, value = problem
    channel = f"The {role}'s EDA channel {ch_name!r} in the {where}"
    if kind == "empty":
        raise ValueError(
            f"{channel} holds no finite values (all NaN or infinite). Check the file or "
            "pick another channel."
        )
    if kind in ("negative", "negative_share"):
        raise ValueError(
            f"{channel} {_negative_finding(kind, value)}, {_NEGATIVE_CAUSE} (combine the "
            "raw skin conductance; filter after combining). Check the channel, or pick "
            "another one."
        )
    if kind == "microsiemens":
        raise ValueError(
            f"{channel} has a median of {value:.4g}, implausible for siemens (EDA is "
            f"{_EDA_RANGE}). It looks like microsiemens: convert with "
            f"raw.apply_function(lambda x: x * 1e-6, picks=[{ch_name!r}]) before "
            "combining (or read the file with unit='uS')."
        )
    raise ValueError(
        f"{channel} has a median (of its non-zero samples) of {value:.4g} S, implausibly "
        f"small (EDA is {_EDA_RANGE}): it was probably converted to siemens "
        "twice, e.g. siemens read with unit='uS'. Multiply by 1e6 "
        f"(raw.apply_function(lambda x: x * 1e6, picks=[{ch_name!r}])) or read the file "
        "with the right unit= ([readers.<format>] unit in a run's TOML)."
    )


def _abs_start(raw):
    """Absolute start time (POSIX seconds) of the first sample, or None."""
    if raw.info["meas_date"] is None:
        return None
    return raw.info["meas_date"].timestamp() + raw.first_time


@verbose
@fill_doc
def combine_dyad(
    client,
    therapist,
    *,
    roles=("client", "therapist"),
    sfreq=ANALYSIS_SFREQ,
    offset=0.0,
    pick=None,
    dyad=None,
    session=None,
    therapist_id=None,
    verbose=None,
):
    """Combine two people's EDA recordings into one session Raw.

    The result has exactly two ``gsr`` channels named by role, in siemens, on a
    common time base and sampling rate, with the annotations of both inputs.

    Parameters
    ----------
    client, therapist : mne.io.Raw
        One recording per person (first and second role). Each must hold EDA in
        siemens, either as its only ``gsr`` channel, as the only channel whose
        name says EDA/GSR, or as the channel named by ``pick``.
    %(roles)s
    sfreq : float | None
        Sampling rate of the result in Hz: the analysis rate. The default, 8 Hz,
        keeps all of EDA's content (below about 2 Hz) and gives every session of
        a study the same rate whatever the devices recorded at, while a 1000 Hz
        recording would cost about 125 times more in every later step. ``None``
        keeps the lower of the two native rates. Resampling is polyphase with
        its anti-alias filter and keeps gaps (NaN) as gaps; the native rates are
        kept in the session info (``alignment["sfreq_in"]``).
    offset : float
        Clock skew in seconds, added to the second role's clock before aligning:
        use a positive value when the therapist's device clock runs behind.
    pick : None | str | tuple of str
        Channel holding the EDA, the same name for both or one per role.
    dyad, session, therapist_id : str | int | None
        Identifiers stored in ``raw.info["description"]`` (JSON), used by
        :func:`mne_dyad.synchrony_cube`.
    %(verbose)s

    Returns
    -------
    raw : mne.io.RawArray
        The session Raw. When both inputs have a ``meas_date`` they are aligned on
        it and cropped to their overlap; otherwise both are taken to start at the
        same moment (plus ``offset``). What was cropped and resampled is logged
        and kept in ``raw.info["description"]``.

    Examples
    --------
    >>> import mne, numpy as np
    >>> import mne_dyad as md
    >>> a = mne.io.RawArray(np.full((1, 400), 2e-6), mne.create_info(["EDA"], 4.0, "gsr"))
    >>> b = mne.io.RawArray(np.full((1, 3200), 3e-6), mne.create_info(["EDA"], 32.0, "gsr"))
    >>> raw = md.io.combine_dyad(a, b, verbose=False)
    >>> raw.ch_names, raw.info["sfreq"]
    (['client', 'therapist'], 8.0)
    """
    _validate_type(client, mne.io.BaseRaw, "client")
    _validate_type(therapist, mne.io.BaseRaw, "therapist")
    _validate_type(roles, (tuple, list), "roles")
    roles = tuple(roles)
    if len(roles) != 2 or not all(isinstance(r, str) and r for r in roles) or roles[0] == roles[1]:
        raise ValueError(f"roles must be two different non-empty strings, got {roles!r}.")
    _validate_type(offset, "numeric", "offset")
    offset = float(offset)
    if not np.isfinite(offset):
        raise ValueError(f"offset must be a finite number of seconds, got {offset}.")
    _validate_type(pick, (None, str, tuple, list), "pick")
    picks = (pick, pick) if pick is None or isinstance(pick, str) else tuple(pick)
    if len(picks) != 2:
        raise ValueError(f"pick must be one channel name or two (one per role), got {pick!r}.")
    raws = (client, therapist)
    target = (
        min(r.info["sfreq"] for r in raws) if sfreq is None else _check_positive(sfreq, "sfreq")
    )

    # 1. EDA channel and unit check
    signals = []
    for raw, role, p in zip(raws, roles, picks, strict=True):
        ch = _pick_eda(raw, role, p)
        data = raw.get_data(picks=[raw.ch_names.index(ch)])[0]
        _check_siemens(data, role, ch, _describe(raw))
        signals.append(data)

    # 2. common clock
    starts = [_abs_start(r) for r in raws]
    aligned_on = "meas_date"
    if any(s is None for s in starts):
        if any(s is not None for s in starts):
            which = f"dyad {dyad}, session {session}: " if dyad is not None else ""
            has = [role for role, start in zip(roles, starts, strict=True) if start is not None]
            lacks = [role for role in roles if role not in has]
            warn(
                f"{which}only the {has[0]}'s {_describe(raws[roles.index(has[0])])} has a "
                f"meas_date, not the {lacks[0]}'s {_describe(raws[roles.index(lacks[0])])}; "
                "aligning both on their first sample instead. Give both a start time "
                "(raw.set_meas_date, or the manifest's client_start / therapist_start "
                "columns) to align on clock time."
            )
        else:
            logger.info("Neither recording has a meas_date: aligning on the first sample.")
        starts = [0.0, 0.0]
        aligned_on = "first_sample"
    starts = [starts[0], starts[1] + offset]
    ends = [s + r.n_times / r.info["sfreq"] for s, r in zip(starts, raws, strict=True)]
    t0, t1 = max(starts), min(ends)
    if t1 - t0 <= 0:
        raise ValueError(
            f"The {roles[0]}'s {_describe(client)} and the {roles[1]}'s "
            f"{_describe(therapist)} do not overlap in time (after an offset of "
            f"{offset} s, the {roles[1]} starts {starts[1] - starts[0]:+.3f} s after "
            f"the {roles[0]}; spans {ends[0] - starts[0]:.3f} s and "
            f"{ends[1] - starts[1]:.3f} s). Check the meas_date of both files or the "
            "offset."
        )
    duration = t1 - t0
    n_out = int(np.floor(duration * target + 1e-9))
    if n_out < 2:
        raise ValueError(
            f"The recordings overlap for only {duration:.3f} s, less than two samples "
            f"at {target} Hz. Check the meas_date of both files or the offset."
        )

    # 3. crop each to the overlap, resample, trim to a common length
    cropped, over = {}, []
    out = np.empty((2, n_out))
    for i, (raw, role, data) in enumerate(zip(raws, roles, signals, strict=True)):
        fs = raw.info["sfreq"]
        first = int(round((t0 - starts[i]) * fs))
        last = first + int(round(duration * fs))
        dropped = (first / fs, (raw.n_times - last) / fs)
        cropped[role] = {"start_s": round(dropped[0], 6), "end_s": round(dropped[1], 6)}
        share = (dropped[0] + dropped[1]) / (raw.n_times / fs)
        if share > _CROP_WARN:
            over.append(
                f"{share:.1%} of the {role}'s {_describe(raw)} ({dropped[0]:.1f} s at the "
                f"start, {dropped[1]:.1f} s at the end)"
            )
        elif dropped[0] > 0 or dropped[1] > 0:
            logger.info(
                f"Cropped {dropped[0]:.3f} s from the start and {dropped[1]:.3f} s from "
                f"the end of the {role}'s recording to the common span."
            )
        res = _resample_nan_aware(data[first:last], fs, target)
        if fs != target:
            logger.info(f"Resampled the {role}'s EDA from {fs:g} Hz to {target:g} Hz.")
        if res.size < n_out:
            res = np.concatenate([res, np.full(n_out - res.size, np.nan)])
        out[i] = res[:n_out]
    if over:
        which = f"dyad {dyad}, session {session}: " if dyad is not None else ""
        verb = "are" if len(over) > 1 else "is"
        warn(
            f"{which}the recordings overlap for {duration:.1f} s, so "
            f"{' and '.join(over)} {verb} cropped. Check both recordings' start times "
            "(meas_date, or the manifest's client_start / therapist_start), the offset, "
            "and the sampling rates: a wrong rate stretches a recording."
        )

    info = mne.create_info(list(roles), target, ["gsr", "gsr"])
    combined = mne.io.RawArray(out, info, first_samp=0, verbose=False)
    if aligned_on == "meas_date":
        combined.set_meas_date(_dt.datetime.fromtimestamp(t0, tz=_dt.UTC))

    # 4. annotations of both inputs on the new time base (duplicates once)
    onsets, durations, descs, seen = [], [], [], set()
    for raw, start in zip(raws, starts, strict=True):
        ann = raw.annotations
        for on, dur, desc in zip(
            ann.onset - raw.first_time, ann.duration, ann.description, strict=True
        ):
            a = start + on - t0
            b = a + dur
            a_c, b_c = max(a, 0.0), min(b, duration)
            if b_c < a_c or (b_c == a_c and dur > 0):
                logger.info(f"Dropped annotation {desc!r} at {a:.3f} s: outside the overlap.")
                continue
            key = (round(a_c * target), round(b_c * target), desc)
            if key in seen:
                continue
            seen.add(key)
            onsets.append(a_c)
            durations.append(b_c - a_c)
            descs.append(desc)
    if onsets:
        combined.set_annotations(mne.Annotations(onsets, durations, descs))

    _set_session_info(
        combined,
        roles=list(roles),
        dyad=dyad,
        session=session,
        therapist=therapist_id,
        alignment={
            "aligned_on": aligned_on,
            "offset_s": offset,
            "cropped": cropped,
            "sfreq_in": {r: raw.info["sfreq"] for r, raw in zip(roles, raws, strict=True)},
            "sfreq": target,
        },
    )
    return combined


def _resample_session(raw, sfreq):
    """Return a copy of a session Raw at ``sfreq`` (anti-aliased, gaps kept as gaps).

    Every channel goes through the resampler of :func:`combine_dyad`; the
    annotations (in seconds), ``meas_date`` and session info are kept, and the
    session's own rate is recorded as its native rate when none is known.
    """
    src = raw.info["sfreq"]
    data = raw.get_data()
    out = np.vstack([_resample_nan_aware(row, src, sfreq) for row in data])
    n = int(np.floor(raw.n_times * sfreq / src + 1e-9))
    if out.shape[1] < n:
        out = np.hstack([out, np.full((out.shape[0], n - out.shape[1]), np.nan)])
    info = mne.create_info(raw.ch_names, sfreq, raw.get_channel_types())
    new = mne.io.RawArray(out[:, :n], info, verbose=False)
    with new.info._unlock():
        new.info["description"] = raw.info["description"]
    if raw.info["meas_date"] is not None:
        new.set_meas_date(raw.info["meas_date"])
    ann = raw.annotations
    onsets = ann.onset - (raw.first_time if ann.orig_time is not None else 0.0)
    new.set_annotations(_session_annotations(new, onsets, ann.duration, ann.description))
    meta = get_session_info(raw)
    alignment = dict(meta.get("alignment") or {})
    try:
        roles = _session_roles(raw, None)
    except ValueError:  # not a two-role session: the rate of every channel
        roles = raw.ch_names
    alignment.setdefault("sfreq_in", dict.fromkeys(roles, src))
    alignment["sfreq"] = sfreq
    _set_session_info(new, alignment=alignment)
    logger.info(f"{_describe(raw)}: resampled from {src:g} Hz to {sfreq:g} Hz.")
    return new
