import socket

import pytest


def test_network_is_forbidden():
    """The root conftest.py blocks non-local connections, so no test can download data."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        with pytest.raises(RuntimeError, match="may not use the network"):
            sock.connect(("93.184.216.34", 80))
    finally:
        sock.close()
