"""Simulated dyadic EDA sessions and studies with known ground truth."""

import json
from dataclasses import dataclass, field

import mne
import numpy as np
import xarray as xr
from mne.utils import _check_option, _validate_type, logger, verbose
from scipy.ndimage import uniform_filter1d
from scipy.signal import oaconvolve
from scipy.special import expit, logit

from .._version import __version__
from ..io._session import _set_session_info
from ..utils._checks import _check_positive, _check_rng, _is_int
from ..utils._docs import fill_doc

_TAU_RISE = 0.75  # s, Bateman rise time constant of a skin conductance response
_TAU_DECAY = 3.0  # s, Bateman decay time constant
_OUTCOMES = ("bond", "task", "goal")


def _bateman(sfreq):
    """Skin conductance response shape (Bateman function), peak 1."""
    t = np.arange(0, 12 * _TAU_DECAY, 1 / sfreq)
    k = np.exp(-t / _TAU_DECAY) - np.exp(-t / _TAU_RISE)
    return k / k.max()


def _default_layout(duration, labels, rng):
    """Alternating blocks of the segment labels covering most of a session."""
    layout = []
    t = 0.05 * duration
    order = list(rng.permutation(labels))
    i = 0
    while True:
        length = rng.uniform(0.12, 0.2) * duration
        if t + length > 0.95 * duration:
            break
        layout.append((order[i % len(order)], t, length))
        t += length + 0.02 * duration
        i += 1
    return layout


def _events(rng, rate_per_min, duration):
    n = rng.poisson(rate_per_min * duration / 60.0)
    return np.sort(rng.uniform(0, duration, n))


def _event_index(events, sfreq, n_times):
    return np.minimum((events * sfreq).astype(int), n_times - 1)


def _mutual_events(rng, rates, c_of_t, sfreq, lag, duration):
    """Responses of two roles that each follow the other (``lead="both"``).

    Each role's spontaneous responses are kept with probability ``1 - c/2`` and a
    kept one is followed by the other role with probability ``c / (2 - c)``: half
    of the coupled pairs run each way, each role's response rate stays its own,
    and a share ``c`` of each role's responses is in a coupled pair, as with one
    leader. Coupled responses are not followed in turn.
    """
    n_times = c_of_t.size
    own, own_amp, coupled, coupled_amp = [], [], [], []
    for rate in rates:
        events = _events(rng, rate, duration)
        c = c_of_t[_event_index(events, sfreq, n_times)]
        keep = rng.uniform(size=events.size) >= c / 2
        events, c = events[keep], c[keep]
        amp = rng.lognormal(np.log(0.3), 0.5, events.size)
        followed = rng.uniform(size=events.size) < c / (2 - c)
        n = int(followed.sum())
        own.append(events)
        own_amp.append(amp)
        coupled.append(events[followed] + lag + 0.3 * rng.standard_normal(n))
        coupled_amp.append(amp[followed] * rng.lognormal(0.0, 0.3, n))
    # each role: its own responses and those following the other role's
    events = [np.concatenate([own[k], coupled[1 - k]]) for k in (0, 1)]
    amps = [np.concatenate([own_amp[k], coupled_amp[1 - k]]) for k in (0, 1)]
    return events, amps, [own[0].size, own[1].size], [coupled[0].size, coupled[1].size]


def _signal(rng, n_times, sfreq, events, amplitudes, kernel, noise_sd=0.005):
    """Tonic level with slow drift + SCRs at ``events`` + sensor noise, in uS."""
    impulses = np.zeros(n_times)
    idx = np.round(events * sfreq).astype(int)
    keep = (idx >= 0) & (idx < n_times)
    np.add.at(impulses, idx[keep], amplitudes[keep])
    phasic = oaconvolve(impulses, kernel)[:n_times]
    drift = np.cumsum(rng.standard_normal(n_times)) / np.sqrt(sfreq)
    drift = uniform_filter1d(drift, size=max(int(60 * sfreq), 1), mode="nearest")
    drift = 0.01 * (drift - drift.mean())  # ~0.05 uS per 30 s, ~0.5 uS per session
    level = rng.uniform(2.0, 8.0)
    noise = noise_sd * rng.standard_normal(n_times)
    return np.maximum(level + drift + phasic + noise, 0.05)


@verbose
@fill_doc
def simulate_session(
    *,
    duration=3000.0,
    sfreq=8.0,
    coupling=0.5,
    lag=3.0,
    segments=None,
    scr_rate=4.0,
    roles=("client", "therapist"),
    lead=None,
    dyad=None,
    session=None,
    therapist=None,
    noise=0.005,
    adc_step=None,
    seed=None,
    verbose=None,
):
    """Simulate one dyadic EDA session with IM/CB segments.

    Each person's EDA is a tonic level with slow drift, skin conductance
    responses (Bateman-shaped) at random times, and sensor noise. Coupling: each
    response of the leading role (``lead``, by default the first) is followed,
    with probability ``c`` (the coupling of the segment it falls in), by a
    response of the other role ``lag`` seconds later (jitter SD 0.3 s, amplitude
    the leader's times a log-normal factor); these replace spontaneous responses
    of the follower, whose response rate therefore does not depend on coupling.
    Outside segments the coupling is 0.

    Parameters
    ----------
    duration : float
        Session length in seconds (default 50 minutes).
    sfreq : float
        Sampling rate in Hz (default 8).
    coupling : float | dict
        Share of the leader's responses that the other role follows, one value
        for every segment or ``{label: value}``; each in ``[0, 1]``.
    lag : float
        Delay of the follower's coupled responses in seconds (>= 0).
    segments : None | list of (str, float, float)
        ``(label, onset, duration)`` of each segment in seconds. ``None``: IM and
        CB blocks of 12 to 20 percent of the session, alternating in random order.
    scr_rate : float | tuple of float
        Spontaneous skin conductance responses per minute: one rate for both
        roles, or one per role (first, second).
    %(roles)s
    lead : None | str
        Whose responses the other role follows: one of ``roles`` or ``"both"``.
        ``None`` (default): the first role (the client), so the synchrony peaks
        at the positive lag ``lag``; the second role (``"therapist"``) puts it
        at ``-lag``. ``"both"``: each role follows the other, half of the
        coupled pairs each way; each role keeps its response rate and a share
        ``c`` of each role's responses is in a coupled pair, as with one leader.
    dyad, session, therapist : str | int | None
        Identifiers stored in the Raw's description.
    noise : float
        SD of the white sensor noise in microsiemens, per sample (default
        0.005). A lab amplifier at 1000-2000 Hz is quieter per sample, about
        its converter step (use ``noise`` near ``adc_step`` for a stand-in).
    adc_step : None | float
        Resolution of the simulated converter in microsiemens: the EDA is
        rounded to multiples of it, as a lab amplifier's output is (for example
        0.0015 uS for a Biopac MP160 at its usual gain). ``None``: not rounded.
        With ``sfreq`` at a lab rate (1000-2000 Hz) this gives stand-ins for lab
        recordings, whose per-sample differences are whole converter steps.
    %(seed)s
    %(verbose)s

    Returns
    -------
    raw : mne.io.RawArray
        Two ``gsr`` channels in siemens named by role, segments as annotations;
        the true coupling, lag and leader are in ``md.io.get_session_info(raw)``.

    Examples
    --------
    >>> import mne_dyad as md
    >>> raw = md.simulation.simulate_session(duration=600, coupling=0.8, seed=0)
    >>> raw.ch_names, sorted(set(raw.annotations.description.tolist()))
    (['client', 'therapist'], ['CB', 'IM'])
    >>> md.io.get_session_info(raw)["lead"]
    'client'
    """
    duration = _check_positive(duration, "duration")
    sfreq = _check_positive(sfreq, "sfreq")
    lag = _check_positive(lag, "lag", allow_zero=True)
    noise = _check_positive(noise, "noise", allow_zero=True)
    if adc_step is not None:
        adc_step = _check_positive(adc_step, "adc_step")
    _validate_type(scr_rate, ("numeric", tuple, list), "scr_rate")
    rates = tuple(scr_rate) if isinstance(scr_rate, tuple | list) else (scr_rate, scr_rate)
    if len(rates) != 2:
        raise ValueError(f"scr_rate must be one rate or one per role, got {scr_rate!r}.")
    rates = tuple(_check_positive(r, "scr_rate", allow_zero=True) for r in rates)
    roles = tuple(roles)
    if len(roles) != 2 or len(set(roles)) != 2 or "both" in roles:
        raise ValueError(f"roles must be two different names other than 'both', got {roles!r}.")
    lead = roles[0] if lead is None else lead
    _check_option("lead", lead, (*roles, "both"))
    rng = _check_rng(seed)
    if segments is None:
        labels = list(coupling) if isinstance(coupling, dict) else ["IM", "CB"]
        segments = _default_layout(duration, labels, rng)
    _validate_type(segments, (list, tuple), "segments")
    labels = sorted({seg[0] for seg in segments})
    _validate_type(coupling, ("numeric", dict), "coupling")
    if not isinstance(coupling, dict):
        coupling = {label: float(coupling) for label in labels}
    for label, c in coupling.items():
        if not 0 <= c <= 1:
            raise ValueError(f"coupling for {label!r} must be in [0, 1], got {c}.")
    missing = [label for label in labels if label not in coupling]
    if missing:
        raise ValueError(f"coupling has no value for segment(s) {missing}: add them.")
    n_times = int(round(duration * sfreq))
    kernel = _bateman(sfreq)
    # coupling as a function of time
    c_of_t = np.zeros(n_times)
    for label, onset, dur in segments:
        if onset < 0 or onset + dur > duration:
            raise ValueError(
                f"Segment {label!r} at {onset} s lasting {dur} s ends outside the "
                f"{duration} s session."
            )
        c_of_t[int(round(onset * sfreq)) : int(round((onset + dur) * sfreq))] = coupling[label]
    if lead == "both":
        events, amps, n_own, n_coupled = _mutual_events(rng, rates, c_of_t, sfreq, lag, duration)
        x = _signal(rng, n_times, sfreq, events[0], amps[0], kernel, noise)
        y = _signal(rng, n_times, sfreq, events[1], amps[1], kernel, noise)
        message = (
            f"{n_own[0]} {roles[0]} and {n_own[1]} {roles[1]} spontaneous responses, "
            f"{n_coupled[0]} followed by the {roles[1]} and {n_coupled[1]} by the {roles[0]}."
        )
    else:
        # the leader is drawn first whichever role it is (a seed with the first
        # role leading gives the same session as before ``lead`` existed)
        k = roles.index(lead)
        leader = _events(rng, rates[k], duration)
        lead_amp = rng.lognormal(np.log(0.3), 0.5, leader.size)
        is_coupled = rng.uniform(size=leader.size) < c_of_t[_event_index(leader, sfreq, n_times)]
        coupled = leader[is_coupled] + lag + 0.3 * rng.standard_normal(is_coupled.sum())
        coupled_amp = lead_amp[is_coupled] * rng.lognormal(0.0, 0.3, is_coupled.sum())
        # coupled responses replace spontaneous ones: the follower's response rate
        # does not depend on coupling, so synchrony is not confounded with arousal
        own = _events(rng, rates[1 - k], duration)
        own = own[rng.uniform(size=own.size) >= c_of_t[_event_index(own, sfreq, n_times)]]
        follow = np.concatenate([own, coupled])
        follow_amp = np.concatenate([rng.lognormal(np.log(0.3), 0.5, own.size), coupled_amp])
        x = _signal(rng, n_times, sfreq, leader, lead_amp, kernel, noise)
        y = _signal(rng, n_times, sfreq, follow, follow_amp, kernel, noise)
        if k == 1:
            x, y = y, x
        message = f"{leader.size} {lead} responses, {coupled.size} followed by the {roles[1 - k]}."
    data = np.vstack([x, y])
    if adc_step is not None:
        data = np.round(data / adc_step) * adc_step
    info = mne.create_info(list(roles), sfreq, ["gsr", "gsr"])
    raw = mne.io.RawArray(data * 1e-6, info, verbose=False)
    if segments:
        onsets, durs, descs = zip(*((o, d, lab) for lab, o, d in segments), strict=True)
        raw.set_annotations(mne.Annotations(onsets, durs, descs))
    _set_session_info(
        raw,
        roles=list(roles),
        dyad=dyad,
        session=session,
        therapist=therapist,
        coupling={k: float(v) for k, v in coupling.items()},
        lag_s=lag,
        lead=lead,
        scr_rate=[float(r) for r in rates],
        simulated=True,
    )
    logger.info(f"Simulated {duration:g} s at {sfreq:g} Hz: {message}")
    return raw


@dataclass
class SimulatedStudy:
    """A simulated dyadic study with its ground truth.

    Made by :func:`simulate_study`; each parameter is kept as an attribute of the
    same name.

    Parameters
    ----------
    raws : dict
        ``{(dyad, session): raw}`` for the usable sessions.
    alliance : xarray.Dataset
        ``bond``, ``task``, ``goal`` on ``dyad x session`` (all sessions).
    truth : xarray.Dataset
        True coupling on ``dyad x session x segment``, the within-dyad IM coupling
        used for the alliance, the usable mask, and every true parameter in attrs.
    params : dict
        The simulation's arguments and true effects (for example ``betas``).
    """

    raws: dict
    alliance: xr.Dataset
    truth: xr.Dataset
    params: dict = field(default_factory=dict)

    def __repr__(self):
        return (
            f"<SimulatedStudy | {self.truth.sizes['dyad']} dyads, {len(self.raws)} usable sessions>"
        )


def _trend_shape(kind, n_sessions):
    """Trend over sessions 1..n, 0 at the first and 1 at the last."""
    t = np.arange(n_sessions, dtype=float)
    if n_sessions < 2:
        return np.zeros(n_sessions)
    f = t if kind == "linear" else 1.0 - np.exp(-t)
    return f / f[-1]


def _mvn(rng, n, sds, corr):
    k = len(sds)
    cov = np.outer(sds, sds) * (np.full((k, k), corr) + (1 - corr) * np.eye(k))
    return rng.multivariate_normal(np.zeros(k), cov, size=n)


def _expected_expit(eta, sd, n_nodes=40):
    """``E[expit(eta + e)]`` for ``e ~ N(0, sd^2)`` (Gauss-Hermite quadrature)."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(n_nodes)
    weights = weights / weights.sum()
    return (expit(eta[..., None] + sd * nodes) * weights).sum(-1)


def _dyad_centered(values, seen):
    """Each dyad's deviation from its mean over the ``seen`` sessions, and its SD there."""
    means = np.where(seen, values, 0.0).sum(axis=1, keepdims=True) / seen.sum(axis=1, keepdims=True)
    within = values - means
    return within, float(within[seen].std())


@verbose
@fill_doc
def simulate_study(
    *,
    n_dyads=31,
    n_sessions=6,
    n_usable=128,
    n_therapists=6,
    duration=3000.0,
    sfreq=8.0,
    lag=3.0,
    lead="client",
    coupling_mean=None,
    sd_dyad=0.35,
    sd_session=0.9,
    betas=None,
    scr_rate=4.0,
    scr_rate_sd=0.0,
    arousal_alliance=None,
    sd_therapist=0.0,
    therapist_alliance=0.0,
    trend="linear",
    trend_coupling=0.0,
    trend_alliance=0.0,
    sd_trend_coupling=0.0,
    sd_trend_alliance=0.0,
    trend_corr=0.0,
    sd_beta=0.0,
    missing_alliance=0.0,
    within_center="latent",
    seed=None,
    verbose=None,
):
    """Simulate a study shaped like the 2019 imagery/alliance trial.

    Coupling of dyad ``d`` in session ``s`` and segment type ``g`` is
    ``c = expit(logit(m_g) + u_d + e_dsg)`` with ``u_d ~ N(0, sd_dyad^2)`` and
    ``e_dsg ~ N(0, sd_session^2)``: the session part dominates by default, as the
    paper found. Alliance: each scale ``o`` is
    ``intercept_o + beta_o * w_ds + dyad_o + noise``, where ``w_ds`` is the
    IM coupling centred on its dyad's mean over the usable sessions (see
    ``within_center``) divided by its SD (dyad effects and noise correlated
    across scales). Defaults follow the paper's findings: IM within-dyad
    coupling raises bond only.

    Confounds can be switched on, each recorded in ``study.truth``: session
    arousal (both partners' SCR rate ``scr_rate * exp(a_ds)``, ``a_ds ~ N(0,
    scr_rate_sd^2)``) that moves the alliance through ``arousal_alliance`` with
    no coupling involved, and therapist effects on coupling (``sd_therapist``,
    logit scale) and on every alliance scale (``therapist_alliance``); time
    trends in coupling and alliance, common to all dyads or each dyad's own and
    correlated between the two (``trend*``, the time confound: no coupling effect
    involved); dyads that differ in how much coupling moves their bond
    (``sd_beta``); and alliance ratings missing at random (``missing_alliance``).

    Parameters
    ----------
    n_dyads : int
        Number of client-therapist dyads (31 in the trial).
    n_sessions : int
        Sessions per dyad (6-session protocol).
    n_usable : int
        How many (dyad, session) pairs have EDA (128 in the trial); the others
        are missing at random, each dyad keeping at least one.
    n_therapists : int
        Therapists, assigned to dyads in turn.
    duration : float
        Session length in seconds.
    sfreq : float
        EDA sampling rate in Hz.
    lag : float
        Delay (s) at which the follower's coupled responses come.
    lead : str
        Whose responses the other follows in every session: ``"client"``
        (default), ``"therapist"`` or ``"both"`` (see
        :func:`simulate_session`); recorded in ``study.truth``.
    coupling_mean : None | dict
        Median coupling per segment label; default ``{"IM": 0.5, "CB": 0.4}``.
    sd_dyad, sd_session : float
        SDs of the dyad and session parts of coupling on the logit scale.
    betas : None | dict
        Effect of the standardised within-dyad IM coupling on each scale, in
        scale points; default ``{"bond": 0.3, "task": 0.0, "goal": 0.0}``.
    scr_rate : float
        Median spontaneous skin conductance responses per minute and person.
    scr_rate_sd : float
        SD across sessions of the log SCR rate, shared by both partners of a
        session (session arousal); 0 (default) gives every session ``scr_rate``.
    arousal_alliance : None | float | dict
        Effect of the standardised within-dyad log SCR rate on each scale, in
        scale points (a float applies to bond); the arousal confound. Default
        none.
    sd_therapist : float
        SD of the therapist part of coupling on the logit scale (default 0).
    therapist_alliance : float
        SD of therapist effects on every alliance scale, in scale points
        (default 0).
    trend : str
        Shape ``f(s)`` of the time trends over sessions, from 0 at the first
        session to 1 at the last: ``"linear"`` or ``"saturating"`` (``1 -
        exp(-(s - 1))``, normalised: most of the change comes by session 3).
    trend_coupling, trend_alliance : float
        Common trend: change from the first to the last session of every dyad's
        coupling (logit scale, every segment type) and of every alliance scale
        (scale points), following ``f``.
    sd_trend_coupling, sd_trend_alliance : float
        SDs over dyads of each dyad's own change (same shape, added to the
        common one).
    trend_corr : float
        Correlation of a dyad's coupling change with its alliance change.
    sd_beta : float | dict
        SD over dyads of each dyad's own effect of the standardised within-dyad
        IM coupling, around ``betas`` (a float applies to bond): heterogeneous
        slopes. Default 0.
    missing_alliance : float
        Share of the usable sessions whose alliance ratings are missing (NaN),
        at random.
    within_center : str
        The dyad mean that ``w_ds`` (and the within-dyad arousal) deviates from,
        and so the footing on which the true between-dyad effect is 0
        (``study.params["between_betas"]`` and ``["between_footing"]``).
        ``"latent"`` (default): the dyad's true mean, the coupling it would have
        on average over endless sessions (its expected coupling in each session,
        integrated over the session part ``e``). This is the footing of the
        multilevel literature (Lüdtke et al., 2008) and of the default
        ``centering="latent"`` of :func:`mne_dyad.stats.fit_alliance_model`: a
        session's alliance depends on that session alone. The observed dyad
        means then carry the average of their sessions' deviations, and with it
        part of the within effect, which a model centred on the observed means
        misreads as a between effect. ``w_ds`` is standardised by the SD of
        ``"usable"``, so the within-dyad slope on the observed sessions is the
        same as there. ``"usable"``: the mean over the dyad's usable sessions,
        the ones an analysis sees.
        The alliance's dyad means over those sessions then hold no coupling at
        all, so the true between-dyad effect is 0 on the footing of
        ``centering="observed"``. ``"all"``: the mean over all ``n_sessions``
        (mne-dyad 0.1); the observed dyad means then carry part of the within
        effect, and the true between effect is stated on neither footing
        (``between_betas`` is None). The SD that standardises ``w_ds`` is taken
        over the same sessions.

        .. versionadded:: 0.2
    %(seed)s
    %(verbose)s

    Returns
    -------
    study : SimulatedStudy
        ``study.raws`` (``{(dyad, session): raw}``), ``study.alliance`` and
        ``study.truth`` (with all true values in its attrs).

    Examples
    --------
    >>> import mne_dyad as md
    >>> study = md.simulation.simulate_study(n_dyads=4, n_sessions=3, n_usable=10,
    ...                                      duration=600, seed=1)
    >>> len(study.raws), dict(study.alliance.sizes)
    (10, {'dyad': 4, 'session': 3})
    """
    for value, name in (
        (n_dyads, "n_dyads"),
        (n_sessions, "n_sessions"),
        (n_usable, "n_usable"),
        (n_therapists, "n_therapists"),
    ):
        if not _is_int(value) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    if not n_dyads <= n_usable <= n_dyads * n_sessions:
        raise ValueError(
            f"n_usable={n_usable} must lie between n_dyads={n_dyads} (one session per "
            f"dyad) and n_dyads * n_sessions={n_dyads * n_sessions}."
        )
    sd_dyad = _check_positive(sd_dyad, "sd_dyad", allow_zero=True)
    sd_session = _check_positive(sd_session, "sd_session", allow_zero=True)
    scr_rate = _check_positive(scr_rate, "scr_rate")
    scr_rate_sd = _check_positive(scr_rate_sd, "scr_rate_sd", allow_zero=True)
    sd_therapist = _check_positive(sd_therapist, "sd_therapist", allow_zero=True)
    _check_option("lead", lead, ("client", "therapist", "both"))
    therapist_alliance = _check_positive(therapist_alliance, "therapist_alliance", allow_zero=True)
    _validate_type(arousal_alliance, (None, "numeric", dict), "arousal_alliance")
    if arousal_alliance is None:
        arousal_alliance = {}
    elif not isinstance(arousal_alliance, dict):
        arousal_alliance = {"bond": float(arousal_alliance)}
    unknown = sorted(set(arousal_alliance) - set(_OUTCOMES))
    if unknown:
        raise ValueError(f"arousal_alliance names unknown scale(s) {unknown}; use {_OUTCOMES}.")
    _check_option("trend", trend, ("linear", "saturating"))
    for value, name in ((trend_coupling, "trend_coupling"), (trend_alliance, "trend_alliance")):
        _validate_type(value, "numeric", name)
    sd_trend_coupling = _check_positive(sd_trend_coupling, "sd_trend_coupling", allow_zero=True)
    sd_trend_alliance = _check_positive(sd_trend_alliance, "sd_trend_alliance", allow_zero=True)
    _validate_type(trend_corr, "numeric", "trend_corr")
    if not -1 <= trend_corr <= 1:
        raise ValueError(f"trend_corr must be between -1 and 1, got {trend_corr!r}.")
    _validate_type(sd_beta, ("numeric", dict), "sd_beta")
    sd_beta = dict(sd_beta) if isinstance(sd_beta, dict) else {"bond": sd_beta}
    for o, value in sd_beta.items():
        if o not in _OUTCOMES:
            raise ValueError(f"sd_beta names unknown scale {o!r}; use {_OUTCOMES}.")
        _check_positive(value, f"sd_beta[{o!r}]", allow_zero=True)
    _validate_type(missing_alliance, "numeric", "missing_alliance")
    if not 0 <= missing_alliance < 1:
        raise ValueError(f"missing_alliance must be in [0, 1), got {missing_alliance!r}.")
    _check_option("within_center", within_center, ("usable", "all", "latent"))
    coupling_mean = {"IM": 0.5, "CB": 0.4} if coupling_mean is None else dict(coupling_mean)
    betas = {"bond": 0.3, "task": 0.0, "goal": 0.0} if betas is None else dict(betas)
    unknown = sorted(set(betas) - set(_OUTCOMES))
    if unknown:
        raise ValueError(f"betas has unknown scale(s) {unknown}; scales are {_OUTCOMES}.")
    rng = _check_rng(seed)
    labels = list(coupling_mean)
    dyads = np.array([f"D{i + 1:02d}" for i in range(n_dyads)], dtype=object)
    sessions = np.arange(1, n_sessions + 1)
    _therapist_of = np.array([f"T{i % n_therapists + 1}" for i in range(n_dyads)], dtype=object)

    # coupling: dyad part + session part on the logit scale
    u = rng.normal(0, sd_dyad, n_dyads)
    e = rng.normal(0, sd_session, (n_dyads, n_sessions, len(labels)))
    base = logit(np.array([coupling_mean[g] for g in labels]))
    # confounds draw from their own stream (spawning draws nothing from rng), so a
    # seed gives the same study as before with the confounds off
    confound_rng = rng.spawn(1)[0]
    t_index = np.array([i % n_therapists for i in range(n_dyads)])
    t_coupling = confound_rng.normal(0, 1, n_therapists) * sd_therapist
    t_alliance = confound_rng.normal(0, 1, (n_therapists, len(_OUTCOMES))) * therapist_alliance
    log_rate = confound_rng.normal(0, 1, (n_dyads, n_sessions)) * scr_rate_sd
    rate = scr_rate * np.exp(log_rate)
    # time, slope heterogeneity and missing ratings: a third stream (same reason)
    time_rng = rng.spawn(1)[0]
    shape = _trend_shape(trend, n_sessions)
    dyad_trend = _mvn(time_rng, n_dyads, [1.0, 1.0], trend_corr) * [
        sd_trend_coupling,
        sd_trend_alliance,
    ]
    trend_c = (trend_coupling + dyad_trend[:, :1]) * shape  # (dyad, session), logit
    trend_a = (trend_alliance + dyad_trend[:, 1:]) * shape  # (dyad, session), scale points
    beta_dyad = {
        o: betas.get(o, 0.0) + time_rng.normal(0, sd_beta.get(o, 0.0), n_dyads) for o in _OUTCOMES
    }
    c = expit(
        base[None, None, :]
        + u[:, None, None]
        + t_coupling[t_index, None, None]
        + trend_c[:, :, None]
        + e
    )

    # usable sessions: every dyad keeps at least one
    usable = np.zeros((n_dyads, n_sessions), bool)
    usable[np.arange(n_dyads), rng.integers(0, n_sessions, n_dyads)] = True
    rest = np.flatnonzero(~usable.ravel())
    usable.ravel()[rng.choice(rest, n_usable - n_dyads, replace=False)] = True

    # alliance from the within-dyad IM coupling
    im = c[:, :, labels.index("IM")] if "IM" in labels else np.zeros((n_dyads, n_sessions))
    seen = usable if within_center != "all" else np.ones_like(usable)
    within, sd_within = _dyad_centered(im, seen)
    if within_center == "latent" and "IM" in labels:
        # deviation from the dyad's expected coupling in each session (its true mean)
        eta = base[labels.index("IM")] + u + t_coupling[t_index]
        within = im - _expected_expit(eta[:, None] + trend_c, sd_session)
    # a constant coupling leaves rounding noise (~1e-17), not a within-dyad signal
    w_std = within / sd_within if sd_within > 1e-9 else np.zeros_like(within)
    intercepts = {"bond": 5.5, "task": 5.0, "goal": 5.0}
    sd_dyad_o, sd_resid_o = 0.5, 0.5
    dyad_eff = _mvn(rng, n_dyads, [sd_dyad_o] * 3, 0.6)
    resid = _mvn(rng, n_dyads * n_sessions, [sd_resid_o] * 3, 0.5).reshape(n_dyads, n_sessions, 3)
    alliance = xr.Dataset(coords={"dyad": dyads, "session": sessions})
    arousal_within, sd_arousal = _dyad_centered(log_rate, seen)
    if within_center == "latent":  # the log rate's true dyad mean is 0
        arousal_within = log_rate
    arousal_std = (
        arousal_within / sd_arousal if sd_arousal > 1e-9 else np.zeros_like(arousal_within)
    )
    for k, o in enumerate(_OUTCOMES):
        alliance[o] = (
            ("dyad", "session"),
            intercepts[o]
            + beta_dyad[o][:, None] * w_std
            + trend_a
            + arousal_alliance.get(o, 0.0) * arousal_std
            + t_alliance[t_index, k, None]
            + dyad_eff[:, k, None]
            + resid[:, :, k],
            {"long_name": f"Session Alliance Inventory {o} scale", "units": "1"},
        )
    alliance = alliance.assign_coords(therapist=("dyad", _therapist_of))
    unrated = np.zeros((n_dyads, n_sessions), bool)
    if missing_alliance > 0:  # whole rating forms missing, among the usable sessions
        cells = np.flatnonzero(usable.ravel())
        n_missing = int(round(missing_alliance * cells.size))
        unrated.ravel()[time_rng.choice(cells, n_missing, replace=False)] = True
        for o in _OUTCOMES:
            alliance[o] = alliance[o].where(~unrated)

    params = {
        "n_dyads": n_dyads,
        "n_sessions": n_sessions,
        "n_usable": n_usable,
        "n_therapists": n_therapists,
        "duration": duration,
        "sfreq": sfreq,
        "lag": lag,
        "lead": lead,
        "coupling_mean": coupling_mean,
        "sd_dyad": sd_dyad,
        "sd_session": sd_session,
        "betas": betas,
        "scr_rate": scr_rate,
        "scr_rate_sd": scr_rate_sd,
        "arousal_alliance": arousal_alliance,
        "sd_therapist": sd_therapist,
        "therapist_alliance": therapist_alliance,
        "trend": trend,
        "trend_coupling": float(trend_coupling),
        "trend_alliance": float(trend_alliance),
        "sd_trend_coupling": sd_trend_coupling,
        "sd_trend_alliance": sd_trend_alliance,
        "trend_corr": float(trend_corr),
        "sd_beta": sd_beta,
        "missing_alliance": float(missing_alliance),
        "within_center": within_center,
        # 0 on the footing of a model centred on the usable sessions ("usable") or on
        # the dyads' latent means ("latent"); see within_center
        "between_betas": None if within_center == "all" else {o: 0.0 for o in _OUTCOMES},
        "between_footing": {"usable": "observed", "latent": "latent"}.get(within_center),
        "intercepts": intercepts,
        "sd_dyad_alliance": sd_dyad_o,
        "sd_residual_alliance": sd_resid_o,
        "sd_within_im_coupling": float(sd_within),
        "icc_dyad_logit": sd_dyad**2 / (sd_dyad**2 + sd_session**2) if sd_dyad + sd_session else 0,
        "mne_dyad_version": __version__,
    }
    truth = xr.Dataset(
        {
            "coupling": (
                ("dyad", "session", "segment"),
                c,
                {"long_name": "true coupling (share of responses followed)"},
            ),
            "within_im_coupling": (
                ("dyad", "session"),
                w_std,
                {"long_name": "dyad-centred IM coupling / its SD"},
            ),
            "usable": (("dyad", "session"), usable.astype(np.int8)),
            "scr_rate": (
                ("dyad", "session"),
                rate,
                {"long_name": "spontaneous SCRs per minute of both partners", "units": "1/min"},
            ),
            "within_arousal": (
                ("dyad", "session"),
                arousal_std,
                {"long_name": "dyad-centred log SCR rate / its SD"},
            ),
            "therapist_coupling": (
                ("dyad",),
                t_coupling[t_index],
                {"long_name": "therapist part of coupling (logit scale)"},
            ),
            "trend_coupling": (
                ("dyad", "session"),
                trend_c,
                {"long_name": "time trend of coupling (logit scale)"},
            ),
            "trend_alliance": (
                ("dyad", "session"),
                trend_a,
                {"long_name": "time trend of every alliance scale (scale points)"},
            ),
            "beta_dyad": (
                ("dyad", "outcome"),
                np.column_stack([beta_dyad[o] for o in _OUTCOMES]),
                {"long_name": "each dyad's effect of the standardised within IM coupling"},
            ),
            "rated": (("dyad", "session"), (~unrated).astype(np.int8)),
        },
        coords={
            "dyad": dyads,
            "session": sessions,
            "segment": np.array(labels, object),
            "outcome": np.array(_OUTCOMES, object),
            "therapist": ("dyad", _therapist_of),
        },
        attrs={"mne_dyad_truth": json.dumps(params, sort_keys=True)},
    )
    alliance.attrs["mne_dyad_truth"] = truth.attrs["mne_dyad_truth"]

    raws = {}
    seeds = rng.integers(0, 2**31, (n_dyads, n_sessions))
    for i, d in enumerate(dyads):
        for j, s in enumerate(sessions):
            if not usable[i, j]:
                continue
            raws[(str(d), int(s))] = simulate_session(
                duration=duration,
                sfreq=sfreq,
                lag=lag,
                lead=lead,
                coupling={g: float(c[i, j, k]) for k, g in enumerate(labels)},
                scr_rate=float(rate[i, j]),
                dyad=str(d),
                session=int(s),
                therapist=str(_therapist_of[i]),
                seed=int(seeds[i, j]),
                verbose=False,
            )
    logger.info(f"Simulated {len(raws)} usable sessions of {n_dyads} dyads.")
    return SimulatedStudy(raws=raws, alliance=alliance, truth=truth, params=params)


def simulate_model_data(
    *,
    n_dyads=31,
    n_sessions=5,
    segments=("IM", "CB"),
    outcomes=("bond", "task", "goal"),
    betas=None,
    sd_dyad_sync=0.5,
    sd_session_sync=1.0,
    sd_dyad=0.7,
    sd_resid=1.0,
    corr=0.5,
    seed=None,
):
    """Simulate a cube and alliance data from the alliance model itself.

    Synchrony ``P[d, s, g] = a[d, g] + e[d, s, g]`` (SDs ``sd_dyad_sync`` and
    ``sd_session_sync``); alliance ``y[d, s, o] = sum_g beta[within, g, o] * P_w
    + beta[between, g, o] * P_b + u[d, o] + e[d, s, o]`` with ``P_w``/``P_b`` the
    within/between split of ``P`` and dyad effects and residuals correlated
    ``corr`` across outcomes. Fitting with ``standardize=False`` estimates the
    ``betas`` on their own scale, so recovery can be checked directly.

    Parameters
    ----------
    n_dyads, n_sessions : int
        Study size (every session observed).
    segments, outcomes : sequence of str
        Segment types and alliance scales.
    betas : None | dict
        ``{(level, segment, outcome): value}``; the others are 0.
    sd_dyad_sync, sd_session_sync : float
        SDs of the dyad and session parts of synchrony.
    sd_dyad, sd_resid : float
        SDs of the alliance dyad effects and residuals.
    corr : float
        Correlation of the dyad effects (and of the residuals) across outcomes.
    seed : None | int | numpy.random.Generator
        Random seed.

    Returns
    -------
    cube : xarray.Dataset
        ``all_lags`` on dyad x session x segment, the true betas in
        ``attrs["mne_dyad_truth"]`` (JSON).
    alliance : xarray.Dataset
        The outcomes on dyad x session.

    Examples
    --------
    >>> import mne_dyad as md
    >>> cube, alliance = md.simulation.simulate_model_data(
    ...     n_dyads=5, betas={("within", "IM", "bond"): 0.5}, seed=0)
    >>> dict(cube.all_lags.sizes), sorted(alliance.data_vars)
    ({'dyad': 5, 'session': 5, 'segment': 2}, ['bond', 'goal', 'task'])
    """
    rng = _check_rng(seed)
    segments, outcomes = list(segments), list(outcomes)
    betas = {} if betas is None else dict(betas)
    levels = ("within", "between")
    B = np.zeros((2, len(segments), len(outcomes)))
    for (level, seg, out), value in betas.items():
        B[levels.index(level), segments.index(seg), outcomes.index(out)] = value
    P = rng.normal(0, sd_dyad_sync, (n_dyads, 1, len(segments))) + rng.normal(
        0, sd_session_sync, (n_dyads, n_sessions, len(segments))
    )
    dyad_mean = P.mean(axis=1, keepdims=True)
    within = P - dyad_mean
    between = np.broadcast_to(dyad_mean - P.mean(axis=(0, 1)), P.shape)
    mu = np.einsum("dsg,go->dso", within, B[0]) + np.einsum("dsg,go->dso", between, B[1])
    k = len(outcomes)
    u = _mvn(rng, n_dyads, [sd_dyad] * k, corr)[:, None, :]
    e = _mvn(rng, n_dyads * n_sessions, [sd_resid] * k, corr).reshape(n_dyads, n_sessions, k)
    y = 4.0 + mu + u + e
    dyads = np.array([f"D{i + 1:02d}" for i in range(n_dyads)], dtype=object)
    sessions = np.arange(1, n_sessions + 1)
    truth = {
        f"beta[{lv}, {sg}, {oc}]": float(B[i, j, m])
        for i, lv in enumerate(levels)
        for j, sg in enumerate(segments)
        for m, oc in enumerate(outcomes)
    }
    cube = xr.Dataset(
        {"all_lags": (("dyad", "session", "segment"), P)},
        coords={"dyad": dyads, "session": sessions, "segment": np.array(segments, dtype=object)},
        attrs={"mne_dyad_truth": json.dumps(truth)},
    )
    alliance = xr.Dataset(
        {o: (("dyad", "session"), y[..., m]) for m, o in enumerate(outcomes)},
        coords={"dyad": dyads, "session": sessions},
    )
    return cube, alliance
