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
    assert spans[0][0] == pytest.approx(99.0, abs=0.1)  # flat 100-120 s with a 1 s margin
    assert spans[0][1] == pytest.approx(22.0, abs=0.2)
    assert any(abs(on - 249.0) < 0.2 for on, _ in spans)  # the jump at 250 s
    assert any(abs(on - 499.0) < 0.2 for on, _ in spans)  # out of range from 500 s
    assert md.preprocessing.annotate_artifacts(session).__len__() == 0  # clean data: none
    raw.set_annotations(raw.annotations + ann)
    sync = md.synchrony.compute_synchrony(raw)
    assert float(sync.n_windows.sel(segment="IM")) < float(
        md.synchrony.compute_synchrony(session).n_windows.sel(segment="IM")
    )
    with pytest.raises(ValueError, match="low=5 must be below high=1"):
        md.preprocessing.annotate_artifacts(raw, low=5, high=1)
