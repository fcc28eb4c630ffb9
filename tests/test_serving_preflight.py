"""`workbench serve` says what is wrong before it loads anything: a busy port, an empty home."""
import socket
import subprocess
import sys

import pytest

from serving_helpers import make_home
from workbench.serving.preflight import check_port, home_warnings


def test_a_busy_port_is_named_with_what_to_do():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError, match=f"port {port} on 127.0.0.1 is already in use.*--port"):
            check_port("127.0.0.1", port)
    check_port("127.0.0.1", port)          # free again
    check_port("127.0.0.1", 0)             # "any port" is never busy


def test_an_address_of_another_machine_is_refused_clearly():
    with pytest.raises(OSError, match="not an address of this machine"):
        check_port("192.0.2.1", 8000)      # TEST-NET-1: never on this machine; nothing is sent


def test_an_empty_home_and_a_home_without_keys_are_pointed_out(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    warnings = home_warnings(empty, auth=True)
    assert len(warnings) == 2
    assert "no models yet" in warnings[0] and "workbench keys create" in warnings[1]
    assert home_warnings(empty, auth=False) == [warnings[0]]       # no keys needed without auth
    ready = tmp_path / "ready"
    make_home(ready)                                               # a model and keys
    assert home_warnings(ready, auth=True) == []


def test_the_command_stops_at_once_on_a_busy_port(tmp_path):
    make_home(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "workbench.cli", "serve", "--home", str(tmp_path),
                                 "--port", str(port)], capture_output=True, text=True, timeout=120,
                                stdin=subprocess.DEVNULL)
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "Traceback" not in result.stderr and "Errno 98" not in result.stderr
