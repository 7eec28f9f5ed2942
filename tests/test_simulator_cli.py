"""`serve` mistakes end in one Chinese line and exit code 2, never a traceback."""
import socket
import subprocess
import sys

import pytest

from helpers import ROOT


def serve(*args):
    return subprocess.run([sys.executable, "-m", "yingdao_module", "serve"] + list(args), cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30, universal_newlines=True)


@pytest.mark.parametrize("fault, phrase", [
    ("bogus:0.1", "未知的故障类型"),
    ("http500:abc", "比例应该是 0 到 1 之间的数字"),
    ("http500:1.5", "应该在 0 到 1 之间"),
])
def test_bad_fault_is_one_chinese_line(fault, phrase):
    done = serve("--fault", fault)
    assert done.returncode == 2
    assert phrase in done.stderr
    assert "Traceback" not in done.stderr


def test_port_in_use_is_one_chinese_line():
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        done = serve("--port", str(busy.getsockname()[1]))
    finally:
        busy.close()
    assert done.returncode == 2
    assert "端口可能已被占用" in done.stderr
    assert "Traceback" not in done.stderr


def test_fault_rates_are_checked_in_process_too():
    from yingdao_module.simulator import Simulator
    with pytest.raises(ValueError):
        Simulator(faults=["nosuch:0.5"])
