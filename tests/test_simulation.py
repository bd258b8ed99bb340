import json

import numpy as np
import pytest
from scipy.special import expit
from scipy.stats import spearmanr

import mne_dyad as md


def test_session_is_seeded_and_in_siemens():
    a = md.simulation.simulate_session(duration=300, seed=3)
    b = md.simulation.simulate_session(duration=300, seed=3)
    c = md.simulation.simulate_session(duration=300, seed=4)
    np.testing.assert_array_equal(a.get_data(), b.get_data())
    assert not np.array_equal(a.get_data(), c.get_data())
    data = a.get_data()
    assert a.get_channel_types() == ["gsr", "gsr"]
    assert 1e-7 < data.min() and data.max() < 1e-4  # 0.1 to 100 uS
    assert a.info["sfreq"] == 8.0 and a.n_times == 2400
    meta = md.io.get_session_info(a)
    assert meta["coupling"] == {"CB": 0.5, "IM": 0.5} and meta["lag_s"] == 3.0


def test_custom_segments_and_coupling_validation():
    raw = md.simulation.simulate_session(
        duration=200,
        segments=[("rest", 10.0, 50.0), ("talk", 100.0, 80.0)],
        coupling={"rest": 0.0, "talk": 1.0},
        seed=0,
    )
    assert list(raw.annotations.description) == ["rest", "talk"]
    np.testing.assert_allclose(raw.annotations.onset, [10.0, 100.0])
    with pytest.raises(ValueError, match=r"coupling for 'IM' must be in \[0, 1\]"):
        md.simulation.simulate_session(duration=200, coupling={"IM": 1.5, "CB": 0.1})
    with pytest.raises(ValueError, match="no value for segment"):
        md.simulation.simulate_session(duration=200, segments=[("X", 0, 10)], coupling={"Y": 1})
    with pytest.raises(ValueError, match="ends outside"):
        md.simulation.simulate_session(duration=100, segments=[("IM", 50, 60)])


def test_coupled_session_has_more_synchrony_at_the_lag():
    """Coupling 0.9 vs 0 (same seeds): more client-led synchrony, at a positive lag."""
    kw = dict(duration=1800, segments=[("IM", 0.0, 1800.0)], lag=3.0)
    gains, lead_gaps, best = [], [], []
    for seed in range(3):
        sync = [
            md.synchrony.compute_synchrony(
                md.simulation.simulate_session(coupling=c, seed=seed, **kw), segments="IM"
            ).sel(segment="IM")
            for c in (0.9, 0.0)
        ]
        gains.append(float(sync[0].x_leads - sync[1].x_leads))
        lead_gaps.append(float(sync[0].x_leads - sync[0].y_leads))
        best.append(float(sync[0].best_lag))
    assert min(gains) > 0.15 and np.mean(gains) > 0.2
    assert min(lead_gaps) > 0.15  # the client leads
    # the therapist's responses start 3 s after the client's; SCR peaks are
    # rounded, so the correlation peaks a little earlier
    assert 1.5 < np.mean(best) < 3.5


def test_study_shape_and_truth():
    study = md.simulation.simulate_study(seed=0, duration=120.0)  # the 2019 design
    assert len(study.raws) == 128
    assert dict(study.alliance.sizes) == {"dyad": 31, "session": 6}
    assert int(study.truth.usable.sum()) == 128
    assert (study.truth.usable.sum("session") >= 1).all()
    truth = json.loads(study.truth.attrs["mne_dyad_truth"])
    assert truth["betas"] == {"bond": 0.3, "task": 0.0, "goal": 0.0}
    assert truth["icc_dyad_logit"] == pytest.approx(0.35**2 / (0.35**2 + 0.9**2))
    key = ("D05", 3) if ("D05", 3) in study.raws else next(iter(study.raws))
    meta = md.io.get_session_info(study.raws[key])
    assert (meta["dyad"], meta["session"]) == key
    c = study.truth.coupling.sel(dyad=key[0], session=key[1])
    assert meta["coupling"]["IM"] == pytest.approx(float(c.sel(segment="IM")))
    # within-dyad IM coupling deviates from each dyad's true mean (the default), with
    # the SD of the deviations from its usable-session mean, 1, as its unit; so the
    # usable sessions' dyad means are noise around 0: their SD is that of a mean of
    # each dyad's usable sessions (1 / sqrt(n), n of 1-6 here), not 0 and not more
    usable = study.truth.usable == 1
    w = study.truth.within_im_coupling.where(usable)
    n = usable.sum("session")
    z = (w.mean("session") * np.sqrt(n)).values
    assert abs(float(np.mean(z))) < 3 / np.sqrt(31) and 0.5 < float(np.std(z)) < 1.6
    assert float((w - w.mean("session")).std()) == pytest.approx(1.0)
    assert truth["within_center"] == "latent" and truth["between_footing"] == "latent"


def test_study_alliance_follows_betas():
    """With a large bond effect and no noise, bond tracks within-dyad IM coupling."""
    study = md.simulation.simulate_study(
        n_dyads=20,
        n_sessions=6,
        n_usable=120,
        duration=60.0,
        seed=2,
        betas={"bond": 3.0, "task": 0.0, "goal": 0.0},
    )
    bond = study.alliance.bond - study.alliance.bond.mean("session")
    # both within the dyad (every session usable here)
    w = study.truth.within_im_coupling - study.truth.within_im_coupling.mean("session")
    assert np.corrcoef(bond.values.ravel(), w.values.ravel())[0, 1] > 0.9
    task = study.alliance.task - study.alliance.task.mean("session")
    assert abs(np.corrcoef(task.values.ravel(), w.values.ravel())[0, 1]) < 0.2


def test_truth_recoverable_in_direction():
    """Sessions simulated with more coupling show more synchrony (paper-sized study)."""
    study = md.simulation.simulate_study(seed=11)
    cube = md.synchrony_cube(study.raws, verbose=False)
    c = study.truth.coupling.transpose("dyad", "session", "segment").values
    for summary, floor in (("all_lags", 0.6), ("x_leads", 0.7)):
        s = cube[summary].transpose("dyad", "session", "segment").values
        ok = np.isfinite(s)
        rho, p = spearmanr(c[ok], s[ok])
        assert rho > floor and p < 1e-4, (summary, rho, p)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_dyads=0), "n_dyads must be a positive integer"),
        (dict(n_dyads=5, n_sessions=2, n_usable=11), "n_usable=11 must lie between"),
        (dict(n_dyads=5, n_sessions=2, n_usable=4), "n_usable=4 must lie between"),
        (dict(betas={"trust": 1.0}), "unknown scale"),
    ],
)
def test_study_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        md.simulation.simulate_study(duration=60.0, **kwargs)


def test_confound_knobs_are_recorded_and_act():
    """Session arousal and therapist effects: in the truth, in the EDA and in the alliance."""
    kw = dict(n_dyads=8, n_sessions=4, n_usable=32, duration=300.0, seed=11, verbose=False)
    plain = md.simulation.simulate_study(**kw)
    study = md.simulation.simulate_study(
        **kw,
        betas={"bond": 0.0},
        scr_rate_sd=0.6,
        arousal_alliance=1.0,
        sd_therapist=1.0,
        therapist_alliance=0.5,
    )
    rate = study.truth.scr_rate
    assert float(np.log(rate).std()) == pytest.approx(0.6, rel=0.3)
    assert np.all(plain.truth.scr_rate == 4.0) and np.all(plain.truth.therapist_coupling == 0)
    # each session's EDA is simulated at its rate: more responses, more fast variance
    keys = list(study.raws)
    info = [md.io.get_session_info(study.raws[k])["scr_rate"] for k in keys]
    truth = [float(rate.sel(dyad=d, session=s)) for d, s in keys]
    np.testing.assert_allclose([r[0] for r in info], truth)
    activity = [np.abs(np.diff(study.raws[k].get_data()[0])).sum() for k in keys]
    assert np.corrcoef(truth, activity)[0, 1] > 0.5
    # arousal moves bond within dyads with no coupling involved; task is untouched
    bond = study.alliance.bond - study.alliance.bond.mean("session")
    r = np.corrcoef(bond.values.ravel(), study.truth.within_arousal.values.ravel())[0, 1]
    assert r > 0.6
    # therapist effects on coupling: one value per therapist, shared by their dyads
    ther = study.truth.therapist_coupling.groupby(study.truth.therapist).std()
    assert float(ther.max()) == 0 and float(study.truth.therapist_coupling.std()) > 0.3
    with pytest.raises(ValueError, match="unknown scale"):
        md.simulation.simulate_study(**kw, arousal_alliance={"trust": 1.0})
    with pytest.raises(ValueError, match="one rate or one per role"):
        md.simulation.simulate_session(duration=60.0, scr_rate=(1.0, 2.0, 3.0))


def test_time_slope_and_missing_rating_knobs():
    """Trends (common and per dyad, correlated), heterogeneous slopes, missing ratings."""
    from mne_dyad.simulation._simulate import _trend_shape

    np.testing.assert_allclose(_trend_shape("linear", 5), [0, 0.25, 0.5, 0.75, 1])
    sat = _trend_shape("saturating", 6)
    assert sat[0] == 0 and sat[-1] == 1 and sat[2] > 0.85  # most of it by session 3
    kw = dict(n_dyads=6, n_sessions=5, n_usable=20, duration=120.0, seed=4, verbose=False)
    plain = md.simulation.simulate_study(**kw)
    common = md.simulation.simulate_study(**kw, trend_coupling=2.0, trend_alliance=1.0)
    # a common trend adds exactly f(s) to every dyad's alliance and logit coupling
    # (task: bond also follows the coupling, which the trend moves too)
    shift = common.alliance.task - plain.alliance.task
    np.testing.assert_allclose(shift.values, np.tile(_trend_shape("linear", 5), (6, 1)))
    logit = np.log(common.truth.coupling / (1 - common.truth.coupling))
    logit0 = np.log(plain.truth.coupling / (1 - plain.truth.coupling))
    np.testing.assert_allclose((logit - logit0).isel(segment=0), 2 * shift.values, atol=1e-9)
    assert int(plain.truth.rated.sum()) == 30 and np.isfinite(plain.alliance.bond).all()
    # each dyad's own trends, correlated 0.8; heterogeneous bond slopes (SD 0.4)
    many = dict(n_dyads=400, n_sessions=2, n_usable=400, duration=60.0, seed=5, verbose=False)
    study = md.simulation.simulate_study(
        **many,
        sd_trend_coupling=1.0,
        sd_trend_alliance=0.5,
        trend_corr=0.8,
        sd_beta=0.4,
        missing_alliance=0.2,
    )
    last_c = study.truth.trend_coupling.isel(session=-1).values
    last_a = study.truth.trend_alliance.isel(session=-1).values
    assert np.corrcoef(last_c, last_a)[0, 1] == pytest.approx(0.8, abs=0.06)
    assert last_c.std() == pytest.approx(1.0, rel=0.1)
    assert last_a.std() == pytest.approx(0.5, rel=0.1)
    beta = study.truth.beta_dyad.sel(outcome="bond").values
    assert beta.std() == pytest.approx(0.4, rel=0.1) and abs(beta.mean() - 0.3) < 0.06
    np.testing.assert_array_equal(study.truth.beta_dyad.sel(outcome="task"), 0.0)
    # 20% of the usable sessions lack their ratings; unusable sessions keep theirs
    usable, rated = study.truth.usable.values == 1, study.truth.rated.values == 1
    assert (~rated).sum() == 80 and not (~rated & ~usable).any()
    np.testing.assert_array_equal(np.isnan(study.alliance.goal.values), ~rated)
    params = json.loads(study.truth.attrs["mne_dyad_truth"])
    assert params["sd_beta"] == {"bond": 0.4} and params["missing_alliance"] == 0.2
    for bad, match in (
        (dict(trend="cubic"), "'trend' parameter"),
        (dict(trend_corr=1.5), "trend_corr must be between -1 and 1"),
        (dict(sd_beta={"trust": 0.2}), "unknown scale 'trust'"),
        (dict(missing_alliance=1.0), r"missing_alliance must be in \[0, 1\)"),
    ):
        with pytest.raises(ValueError, match=match):
            md.simulation.simulate_study(duration=60.0, **bad)


def test_default_lead_is_the_client_and_output_unchanged():
    """``lead`` added nothing to the default draws: seeded sessions are as before."""
    raw = md.simulation.simulate_session(duration=300, seed=3)
    data = raw.get_data()
    # values of this seeded session before ``lead`` existed
    np.testing.assert_allclose(
        data[:, [0, 1000, 2399]],
        [
            [4.51983693402524e-06, 4.683264127622135e-06, 4.8148222880166506e-06],
            [6.404384602001935e-06, 6.432898531561129e-06, 6.4374730847142774e-06],
        ],
        rtol=1e-10,
    )
    np.testing.assert_allclose(data.sum(axis=1), [0.011451533266988384, 0.015624913049435868])
    explicit = md.simulation.simulate_session(duration=300, seed=3, lead="client")
    np.testing.assert_array_equal(explicit.get_data(), data)
    assert md.io.get_session_info(raw)["lead"] == "client"
    custom = md.simulation.simulate_session(duration=60, roles=("mother", "infant"), seed=0)
    assert md.io.get_session_info(custom)["lead"] == "mother"  # None: the first role
    study = md.simulation.simulate_study(
        n_dyads=3, n_sessions=2, n_usable=4, duration=120, seed=5, verbose=False
    )
    sums = {k: float(r.get_data().sum()) for k, r in study.raws.items()}
    expected = {
        ("D01", 2): 0.010739055725976027,
        ("D02", 1): 0.010926398491810641,
        ("D02", 2): 0.010244120673258675,
        ("D03", 1): 0.008696609779212976,
    }
    assert sums == pytest.approx(expected, rel=1e-10)
    assert json.loads(study.truth.attrs["mne_dyad_truth"])["lead"] == "client"


def test_lead_sets_who_follows():
    """WCLC finds the leader the simulation was told: client, therapist, or both."""
    kw = dict(duration=900, segments=[("IM", 0.0, 900.0)], coupling=0.9, lag=3.0)
    sync_kw = dict(segments="IM", lag=6.0, window=30.0, step=15.0)
    gaps = {}
    for lead in ("client", "therapist", "both"):
        for seed in range(2):
            raw = md.simulation.simulate_session(lead=lead, seed=seed, **kw)
            assert md.io.get_session_info(raw)["lead"] == lead
            s = md.synchrony.compute_synchrony(raw, **sync_kw).sel(segment="IM")
            gap = float(s.client_leads - s.therapist_leads)
            gaps.setdefault(lead, []).append(gap)
            if lead == "both":  # both directions well above uncoupled (~0.3)
                assert min(float(s.client_leads), float(s.therapist_leads)) > 0.4
            else:  # the synchrony peaks at +lag (client leads) or -lag
                assert np.sign(float(s.best_lag)) == (1 if lead == "client" else -1)
    # measured (seeds 0, 1): client 0.42, 0.53; therapist -0.42, -0.53; both 0.05, -0.04
    assert min(gaps["client"]) > 0.3
    assert max(gaps["therapist"]) < -0.3
    assert max(np.abs(gaps["both"])) < 0.15
    with pytest.raises(ValueError, match="lead"):
        md.simulation.simulate_session(duration=60, lead="mother")
    with pytest.raises(ValueError, match="lead"):
        md.simulation.simulate_study(duration=60, lead="client_first")
    study = md.simulation.simulate_study(
        n_dyads=2, n_sessions=1, n_usable=2, duration=60, lead="therapist", seed=0
    )
    assert json.loads(study.truth.attrs["mne_dyad_truth"])["lead"] == "therapist"
    assert {md.io.get_session_info(r)["lead"] for r in study.raws.values()} == {"therapist"}


def test_expected_coupling_is_the_mean_over_the_session_part():
    from mne_dyad.simulation._simulate import _expected_expit

    eta = np.array([[-1.0, 0.0], [0.5, 2.0]])
    z = np.random.default_rng(0).standard_normal(2_000_000)
    mc = [[expit(v + 0.8 * z).mean() for v in row] for row in eta]
    np.testing.assert_allclose(_expected_expit(eta, 0.8), mc, atol=1e-3)
    np.testing.assert_allclose(_expected_expit(eta, 0.0), expit(eta), atol=1e-15)
    # the mean of a logistic of a centred normal is 1/2 at 0, and below expit for eta > 0
    assert _expected_expit(np.array([0.0]), 1.5)[0] == pytest.approx(0.5, abs=1e-12)
    assert _expected_expit(np.array([2.0]), 1.5)[0] < expit(2.0)


def test_within_center_puts_the_between_truth_on_the_models_footing():
    """Centred on the usable sessions, no coupling reaches the observed dyad means."""
    beta = 1.0
    kw = dict(n_dyads=40, n_sessions=6, n_usable=120, duration=60.0, seed=4, verbose=False)
    kw["betas"] = {"bond": beta, "task": 0.0, "goal": 0.0}
    usable_c = md.simulation.simulate_study(**kw, within_center="usable")
    all_c = md.simulation.simulate_study(**kw, within_center="all")
    # the EDA and everything but the coupling term of the alliance are the same
    assert usable_c.raws.keys() == all_c.raws.keys()
    key = next(iter(usable_c.raws))
    np.testing.assert_array_equal(usable_c.raws[key].get_data(), all_c.raws[key].get_data())
    seen = usable_c.truth.usable.values.astype(bool)

    def seen_mean(values):  # each dyad's mean over its usable sessions
        return np.where(seen, values, 0.0).sum(axis=1) / seen.sum(axis=1)

    # known answer: each dyad's mean over its usable sessions is exactly 0 ...
    w_u = usable_c.truth.within_im_coupling.values
    means_u = seen_mean(w_u)
    np.testing.assert_allclose(means_u, 0.0, atol=1e-12)
    assert w_u[seen].std() == pytest.approx(1.0)
    # ... while centring on all 6 sessions leaves some in the observed dyad means
    means_a = seen_mean(all_c.truth.within_im_coupling.values)
    assert np.abs(means_a).max() > 0.2
    # so the observed dyad means of bond follow the dyads' mean IM coupling only then
    im_mean = seen_mean(usable_c.truth.coupling.sel(segment="IM").values)
    coupling_part = {
        name: seen_mean(s.alliance.bond.values - s.alliance.task.values)
        for name, s in (("usable", usable_c), ("all", all_c))
    }
    slope = {k: np.polyfit(im_mean, v, 1)[0] for k, v in coupling_part.items()}
    diff = coupling_part["all"] - coupling_part["usable"]
    np.testing.assert_allclose(diff, beta * (means_a - means_u), atol=1e-10)
    assert slope["all"] != pytest.approx(slope["usable"], abs=0.5)
    params = json.loads(usable_c.truth.attrs["mne_dyad_truth"])
    assert params["within_center"] == "usable"
    assert params["between_betas"] == {"bond": 0.0, "task": 0.0, "goal": 0.0}
    assert params["between_footing"] == "observed"
    assert json.loads(all_c.truth.attrs["mne_dyad_truth"])["between_betas"] is None
    # centred on the dyads' true (latent) means: over the usable sessions the within
    # deviations are those of "usable" exactly, only the observed dyad means differ
    latent_c = md.simulation.simulate_study(**kw)  # the default: the model's footing
    w_l = latent_c.truth.within_im_coupling.values
    means_l = seen_mean(w_l)
    np.testing.assert_allclose((w_l - means_l[:, None])[seen], w_u[seen], atol=1e-12)
    assert np.abs(means_l).max() > 0.2 and abs(w_l.mean()) < 0.2  # noise around 0
    # the true mean: one value per dyad (no trend here), which follows the dyad's
    # coupling level, while the deviations from it do not
    im = usable_c.truth.coupling.sel(segment="IM").values
    true_mean = im - w_l * params["sd_within_im_coupling"]
    np.testing.assert_allclose(true_mean.std(1), 0.0, atol=1e-12)
    assert np.corrcoef(true_mean[:, 0], im.mean(1))[0, 1] > 0.5
    assert abs(np.corrcoef(true_mean[:, 0], w_l.mean(1))[0, 1]) < 0.4
    lat_params = json.loads(latent_c.truth.attrs["mne_dyad_truth"])
    assert lat_params["between_footing"] == "latent"
    assert lat_params["between_betas"] == {"bond": 0.0, "task": 0.0, "goal": 0.0}
    with pytest.raises(ValueError, match="within_center"):
        md.simulation.simulate_study(**kw, within_center="observed")
