"""EDA cleaning, tonic/phasic decomposition, artifacts, and synchrony on each signal."""

import mne
import numpy as np
import pytest

import mne_dyad as md


@pytest.fixture(scope="module")
def session():
    return md.simulation.simulate_session(
        duration=900,
        sfreq=16.0,
        segments=[("IM", 60.0, 360.0), ("CB", 480.0, 360.0)],
        coupling={"IM": 0.9, "CB": 0.0},
        seed=3,
        dyad="D3",
        session=1,
    )


def test_clean_adds_channels_and_smooths(session):
    noisy = session.copy()
    rng = np.random.default_rng(0)
    noisy._data = noisy._data + rng.normal(0, 0.05e-6, noisy._data.shape)  # 0.05 uS noise
    clean = md.preprocessing.clean_eda(noisy)
    assert clean.ch_names == ["client", "therapist", "client-clean", "therapist-clean"]
    assert noisy.ch_names == ["client", "therapist"]  # a copy: the input is untouched
    raw_x, clean_x = clean.get_data(picks=["client", "client-clean"])
    truth = session.get_data(picks="client")[0]
    # the 3 Hz low-pass removes most of the white noise above 3 Hz (Nyquist 8 Hz)
    assert np.std(clean_x - truth) < 0.75 * np.std(raw_x - truth)
    assert md.io.get_session_info(clean)["preprocessing"] == {"clean": "neurokit"}


def test_clean_warns_at_low_rates():
    raw = md.simulation.simulate_session(duration=120, sfreq=4.0, seed=1, dyad="D1", session=2)
    with pytest.warns(RuntimeWarning, match=r"dyad D1, session 2: at 4 Hz .* left unfiltered"):
        out = md.preprocessing.clean_eda(raw)
    np.testing.assert_allclose(out.get_data(picks="client-clean"), raw.get_data(picks="client"))


@pytest.mark.parametrize("func", ["clean_eda", "decompose_eda"])
def test_lab_rate_hint_once(monkeypatch, session, func):
    """Preprocessing a Raw at its native lab rate logs the 8 Hz hint once, naming it."""
    from mne_dyad.utils import _signal

    monkeypatch.setattr(_signal, "_HINTED", [])
    step = getattr(md.preprocessing, func)
    lab = session.copy().crop(0, 60).resample(64.0, method="polyphase")
    with mne.utils.catch_logging(verbose=True) as log:
        step(session.copy().crop(0, 60))  # 16 Hz: no hint
        assert "is at" not in log.getvalue(close=False)
        step(lab)
        step(lab)
    text = log.getvalue()
    assert text.count("dyad D3, session 1 is at 64 Hz") == 1
    assert "about 8 times less work" in text and "sfreq=8" in text


def test_decompose_tonic_plus_phasic(session):
    parts = md.preprocessing.decompose_eda(session, method="smoothmedian", signal="raw")
    tonic, phasic, x = parts.get_data(picks=["client-tonic", "client-phasic", "client"])
    np.testing.assert_allclose(tonic + phasic, x, atol=1e-12)  # an exact split
    assert np.median(phasic) == pytest.approx(0, abs=0.05e-6)  # responses ride on tonic
    hp = md.preprocessing.decompose_eda(md.preprocessing.clean_eda(session))
    assert {"client-tonic", "therapist-phasic"} <= set(hp.ch_names)
    with pytest.raises(ImportError, match="pip install cvxopt"):
        md.preprocessing.decompose_eda(session, method="cvxeda")


def test_smoothmedian_window(session):
    """A longer median keeps more of each response in the phasic part."""
    phasic = {}
    for seconds in (4.0, 10.0):
        out = md.preprocessing.decompose_eda(
            session, method="smoothmedian", signal="raw", smoothing=seconds
        )
        phasic[seconds] = out.get_data(picks="client-phasic")[0]
        assert md.io.get_session_info(out)["preprocessing"] == {
            "decompose": "smoothmedian",
            "smoothing_s": seconds,
        }
    # the default is neurokit2's 4 s
    default = md.preprocessing.decompose_eda(session, method="smoothmedian", signal="raw")
    np.testing.assert_allclose(default.get_data(picks="client-phasic")[0], phasic[4.0])
    area = {k: np.abs(v).sum() for k, v in phasic.items()}
    assert area[10.0] > 1.2 * area[4.0], area
    with pytest.raises(ValueError, match="nothing for method='highpass'"):
        md.preprocessing.decompose_eda(session, smoothing=8.0)
    with pytest.raises(ValueError, match="smoothing"):
        md.preprocessing.decompose_eda(session, method="smoothmedian", smoothing=-1.0)


def test_gaps_stay_gaps(session):
    data = session.get_data()
    data[1, 1600:1760] = np.nan
    gappy = mne.io.RawArray(data, session.info, verbose=False)
    out = md.preprocessing.decompose_eda(md.preprocessing.clean_eda(gappy))
    for name in ("therapist-clean", "therapist-tonic", "therapist-phasic"):
        values = out.get_data(picks=name)[0]
        assert np.isnan(values[1600:1760]).all() and np.isfinite(values[:1600]).all()


def test_synchrony_on_each_signal(session):
    prepped = md.preprocessing.decompose_eda(md.preprocessing.clean_eda(session))
    for signal in ("raw", "clean", "tonic", "phasic"):
        sync = md.synchrony.compute_synchrony(prepped, signal=signal, lag=5.0)
        assert sync.attrs["mne_dyad_params"].count(f'"signal": "{signal}"') == 1
        assert np.isfinite(sync.x_leads).all()
    phasic = md.synchrony.compute_synchrony(prepped, signal="phasic", lag=5.0)
    assert float(phasic.x_leads.sel(segment="IM")) > float(phasic.x_leads.sel(segment="CB"))
    with pytest.raises(ValueError, match=r"no \['client-tonic', 'therapist-tonic'\] channel"):
        md.synchrony.compute_synchrony(session, signal="tonic")


def test_annotate_artifacts(session):
    data = session.get_data()
    data[0, 1600:1920] = data[0, 1600]  # 20 s flat line (client)
    data[1, 4000] += 20e-6  # a 20 uS jump in one sample (therapist)
    data[1, 8000:8040] = 80e-6  # 2.5 s out of range
    raw = mne.io.RawArray(data, session.info, verbose=False)
    ann = md.preprocessing.annotate_artifacts(raw, margin=1.0)
    assert set(ann.description) == {"BAD_artifact"}
    spans = sorted(zip(np.round(ann.onset, 2), np.round(ann.duration, 2)))
    # the flat line 100-120 s is covered, with most of its 1 s margins (the 16 Hz
    # signal is tested at 8 Hz, whose anti-alias filter smears the line's edges)
    assert 98.8 <= spans[0][0] <= 99.5
    assert 120.3 <= spans[0][0] + spans[0][1] <= 121.2
    assert any(abs(on - 249.0) < 0.2 for on, _ in spans)  # the jump at 250 s
    # out of range 500-502.5 s: covered with its margins; the anti-alias filter's
    # ringing around a 75 uS step adds under a second
    assert any(498.0 <= on <= 499.0 and on + d >= 503.5 for on, d in spans)
    assert md.preprocessing.annotate_artifacts(session).__len__() == 0  # clean data: none
    raw.set_annotations(raw.annotations + ann)
    sync = md.synchrony.compute_synchrony(raw)
    assert float(sync.n_windows.sel(segment="IM")) < float(
        md.synchrony.compute_synchrony(session).n_windows.sel(segment="IM")
    )
    with pytest.raises(ValueError, match="low=5 must be below high=1"):
        md.preprocessing.annotate_artifacts(raw, low=5, high=1)


def _lab_standin():
    """A 2000 Hz session with 0.0015 uS converter steps and three artifacts."""
    raw = md.simulation.simulate_session(
        duration=300, sfreq=2000.0, adc_step=0.0015, seed=11, dyad="L1", session=1
    )
    data = raw.get_data()
    steps = np.abs(np.diff(data[0])) * 1e6
    # what made 0.1 flag 99.6% of a clean Biopac file: one converter step in 0.5 ms
    # is 3 uS/s, and the typical per-sample slope is beyond the former 5 uS/s limit
    assert steps[steps > 0].min() * 2000 == pytest.approx(3.0)
    assert np.median(steps) * 2000 > 5.0
    clean = data.copy()
    data[0, 100_000:140_000] = data[0, 100_000]  # 20 s flat line at 50 s (client)
    data[1, 300_000:] += 10e-6  # electrode moves at 150 s: a 10 uS step (therapist)
    data[1, 500_000:505_000] = 80e-6  # 2.5 s out of range at 250 s
    info = raw.info
    return (
        mne.io.RawArray(clean, info, verbose=False),
        mne.io.RawArray(data, info, verbose=False),
    )


def test_artifacts_do_not_depend_on_the_rate():
    clean, bad = _lab_standin()
    found = {}
    for sfreq in (2000.0, 1000.0, 32.0, 8.0):
        if sfreq != 2000.0:  # the same recording at a lower rate (anti-aliased)
            clean = clean.copy().resample(sfreq, method="polyphase", verbose=False)
            bad = bad.copy().resample(sfreq, method="polyphase", verbose=False)
        # a clean lab recording has no artifact at any rate
        assert len(md.preprocessing.annotate_artifacts(clean, verbose=False)) == 0, sfreq
        ann = md.preprocessing.annotate_artifacts(bad, margin=1.0, verbose=False)
        found[sfreq] = np.array(sorted(zip(ann.onset, ann.onset + ann.duration)))
        assert found[sfreq].max() <= bad.times[-1] + 1 / sfreq
    # the flat line 50-70 s, the step at 150 s, out of range 250-252.5 s: each is
    # covered, with its 1 s margins (less what the anti-alias filter smears)
    truth = np.array([(50.0, 70.0), (150.0, 150.0), (250.0, 252.5)])
    spans = found[2000.0]
    assert spans.shape == (3, 2)
    assert np.all(spans[:, 0] <= truth[:, 0] - 0.5) and np.all(spans[:, 0] >= truth[:, 0] - 2)
    assert np.all(spans[:, 1] >= truth[:, 1] + 0.5) and np.all(spans[:, 1] <= truth[:, 1] + 2.5)
    # and the same spans at every rate, within one analysis sample (1/8 s)
    for sfreq, other in found.items():
        assert other.shape == spans.shape, (sfreq, other)
        assert np.abs(other - spans).max() <= 0.125 + 1e-9, (sfreq, other, spans)


def test_artifacts_warn_when_most_is_marked(session):
    with pytest.warns(RuntimeWarning, match=r"dyad D3, session 1: 100% of the client's EDA"):
        md.preprocessing.annotate_artifacts(session, low=0.05, high=0.1)
