"""Guards for every test and doctest: no network, headless plots, quiet logs."""

import os
import socket

import matplotlib
import pytest

matplotlib.use("Agg")
os.environ.setdefault("MNE_DONTWRITE_HOME", "true")

import mne  # noqa: E402

_LOCAL = ("127.", "::1", "localhost")
_real_connect = socket.socket.connect


def _guarded_connect(self, address, *args, **kwargs):
    host = address[0] if isinstance(address, tuple) else str(address)
    if isinstance(host, str) and not host.startswith(_LOCAL) and self.family != socket.AF_UNIX:
        raise RuntimeError(
            f"Tests may not use the network (tried to connect to {address!r}). "
            "Generate the data with mne_dyad.simulation instead."
        )
    return _real_connect(self, address, *args, **kwargs)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    """Forbid network connections (downloads) in every test."""
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)


@pytest.fixture(autouse=True)
def _quiet_mne():
    mne.set_log_level("WARNING")
    yield
    matplotlib.pyplot.close("all")
