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
    import matplotlib.pyplot as plt  # mne_dyad itself imports pyplot only when it plots

    plt.close("all")


#: Draws per chain that a test or doctest not marked ``slow`` may take from a model.
FAST_MAX_DRAWS = 300
_SAMPLING_MODULES = (
    "mne_dyad.stats._alliance_graph",
    "mne_dyad.stats._variance",
    "mne_dyad.stats._chance",
)


@pytest.fixture(autouse=True)
def _fast_tests_sample_little(request, monkeypatch):
    """Keep ``pytest -m "not slow"`` fast: only slow tests may sample long chains."""
    if request.node.get_closest_marker("slow") is not None:
        return
    import importlib

    from mne_dyad.stats import _sampling

    def guarded(model, *, draws, tune, **kwargs):
        if max(draws, tune) > FAST_MAX_DRAWS:
            raise AssertionError(
                f"{request.node.nodeid} samples draws={draws}, tune={tune}: more than "
                f"{FAST_MAX_DRAWS} belongs in a test marked @pytest.mark.slow."
            )
        return _sampling._sample(model, draws=draws, tune=tune, **kwargs)

    for name in _SAMPLING_MODULES:
        monkeypatch.setattr(importlib.import_module(name), "_sample", guarded)
