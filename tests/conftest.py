"""Shared simulated data (the network guard and log settings are in ../conftest.py)."""

import pandas as pd
import pytest

import mne_dyad as md


@pytest.fixture(scope="session")
def small_study():
    """A small seeded study: 6 dyads x 3 sessions, 10-minute sessions."""
    return md.simulation.simulate_study(
        n_dyads=6, n_sessions=3, n_usable=15, duration=600.0, seed=7, verbose=False
    )


@pytest.fixture(scope="session")
def small_cube(small_study):
    return md.synchrony_cube(small_study.raws, verbose=False)


def _check_lab_session(raw, lab, native):
    """Check a lab-rate session read through a study against the simulation it came from.

    ``raw``: the session as read (8 Hz); ``lab``: the simulated session at its lab
    rate; ``native``: the ``{role: rate}`` the files had. The rates are recorded, no
    artifact is marked, the coupling shows in IM, and IM synchrony is that of the
    simulation combined at 8 Hz by hand.
    """
    assert raw.info["sfreq"] == 8.0
    assert md.io.get_session_info(raw)["alignment"]["sfreq_in"] == native
    marked = md.preprocessing.preprocess_session(raw, verbose=False)
    assert md.io.get_session_info(marked)["preprocessing"]["artifact_share"] == 0.0
    by_hand = md.io.combine_dyad(lab.copy().pick([0]), lab.copy().pick([1]), dyad="L1", session=1)
    by_hand.set_annotations(raw.annotations)
    sync, ref = (
        md.synchrony.compute_synchrony(r, lag=5.0, window=20.0, step=10.0)
        for r in (marked, by_hand)
    )
    im, cb = (float(sync.all_lags.sel(segment=s)) for s in ("IM", "CB"))
    assert im > cb + 0.1  # the coupling is in IM
    assert im == pytest.approx(float(ref.all_lags.sel(segment="IM")), abs=0.01)


@pytest.fixture
def check_lab_session():
    """The check of a lab-rate session read through a study (see _check_lab_session)."""
    return _check_lab_session


def _write_tabular_study(root, sim, columns=None):
    """Write a simulated study to ``root`` as files a manifest lists; return the manifest.

    One CSV table of EDA (microsiemens, no time column: read at 8 Hz with
    ``[readers.tabular] sfreq``) per person and session, one coding sheet per
    session and ``manifest.csv`` with file names relative to it. ``columns(k)``,
    if given, adds manifest columns to the k-th session's row.
    """
    rows = []
    for k, ((dyad, session), raw) in enumerate(sim.raws.items()):
        stem = f"{dyad}_{session}"
        for role in ("client", "therapist"):
            values = raw.get_data(picks=role)[0] * 1e6
            pd.DataFrame({"eda": values}).to_csv(root / f"{stem}_{role}.csv", index=False)
        ann = raw.annotations
        onsets = ann.onset - raw.first_time
        table = {"segment": ann.description, "onset": onsets, "duration": ann.duration}
        pd.DataFrame(table).to_csv(root / f"{stem}_coding.csv", index=False)
        files = {f"{r}_file": f"{stem}_{r}.csv" for r in ("client", "therapist")}
        extra = columns(k) if columns is not None else {}
        rows.append(
            {
                "dyad": dyad,
                "session": session,
                **files,
                "coding_file": f"{stem}_coding.csv",
                **extra,
            }
        )
    pd.DataFrame(rows).to_csv(root / "manifest.csv", index=False)
    return root / "manifest.csv"


@pytest.fixture(scope="session")
def write_tabular_study():
    """Write a simulated study as CSV tables, coding sheets and a manifest (see
    _write_tabular_study)."""
    return _write_tabular_study
