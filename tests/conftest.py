"""Test configuration: no network, headless plots, quiet logs, shared simulated data."""

import os
import socket

import matplotlib
import pytest

matplotlib.use("Agg")
os.environ.setdefault("MNE_DONTWRITE_HOME", "true")

import mne  # noqa: E402

import mne_dyad as md  # noqa: E402

_LOCAL = ("127.", "::1", "localhost")


def _guarded_connect(self, address, *args, **kwargs):
    host = address[0] if isinstance(address, tuple) else str(address)
    if isinstance(host, str) and not host.startswith(_LOCAL) and self.family != socket.AF_UNIX:
        raise RuntimeError(
            f"Tests may not use the network (tried to connect to {address!r}). "
            "Generate the data with mne_dyad.simulation instead."
        )
    return _real_connect(self, address, *args, **kwargs)


_real_connect = socket.socket.connect


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """Forbid network connections (downloads) in every test."""
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)


@pytest.fixture(autouse=True)
def _quiet_mne():
    mne.set_log_level("WARNING")
    yield
    matplotlib.pyplot.close("all")


@pytest.fixture(scope="session")
def small_study():
    """A small seeded study: 6 dyads x 3 sessions, 10-minute sessions."""
    return md.simulation.simulate_study(
        n_dyads=6, n_sessions=3, n_usable=15, duration=600.0, seed=7, verbose=False
    )


@pytest.fixture(scope="session")
def small_cube(small_study):
    return md.synchrony_cube(small_study.raws, verbose=False)
