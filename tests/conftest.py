"""Shared simulated data (the network guard and log settings are in ../conftest.py)."""

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
