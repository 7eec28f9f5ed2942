"""Shared fixtures: every client test runs against the source package AND the built
dist/coze.py (what users paste), with `requests` and with the urllib fallback."""
import importlib
import importlib.util
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIST = os.path.join(ROOT, "dist", "coze.py")
sys.path.insert(0, ROOT)

SOURCE_MODULES = ["errors", "log", "config", "transport", "sse", "files", "client", "workflow",
                  "ratelimit", "tables", "journal", "batch_options", "batch", "merge", "api", "shadowbot"]


def load_dist(name="coze_dist"):
    """Import dist/coze.py as a plain module (outside ShadowBot the header falls back)."""
    spec = importlib.util.spec_from_file_location(name, DIST)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Coze(object):
    """One flavour of the module: attribute access finds a name wherever it lives;
    patch() changes a module-level setting where the code reads it."""

    def __init__(self, flavour, monkeypatch):
        self.flavour = flavour
        self._monkeypatch = monkeypatch
        if flavour == "dist":
            self._modules = [load_dist()]
        else:
            import yingdao_module
            self._modules = [yingdao_module]
            for name in SOURCE_MODULES:
                try:
                    self._modules.append(importlib.import_module("yingdao_module." + name))
                except ImportError:
                    pass

    def __getattr__(self, name):
        for module in self._modules:
            if hasattr(module, name):
                return getattr(module, name)
        raise AttributeError(name)

    def patch(self, name, value):
        found = False
        for module in self._modules[1:] if self.flavour == "source" else self._modules:
            if name in vars(module):
                self._monkeypatch.setattr(module, name, value)
                found = True
        assert found, name

    def reset_clients(self):
        self._clients.clear()


@pytest.fixture(params=["source", "dist"])
def coze(request, monkeypatch):
    """The module under test, with fast backoff so retry tests stay quick."""
    module = Coze(request.param, monkeypatch)
    module.patch("BACKOFF_BASE", 0.01)
    module.patch("BACKOFF_CAP", 0.05)
    module.patch("RETRY_AFTER_CAP", 0.05)
    module.reset_clients()
    for name in ("COZE_API_TOKEN", "COZE_BOT_ID", "COZE_API_BASE", "COZE_USER_ID"):
        monkeypatch.delenv(name, raising=False)
    return module


@pytest.fixture(params=["requests", "urllib"])
def backend(request, monkeypatch):
    monkeypatch.setenv("COZE_HTTP_BACKEND", request.param)
    return request.param


@pytest.fixture
def sim():
    from yingdao_module.simulator import Simulator
    with Simulator(latency=0.05) as server:
        yield server


@pytest.fixture
def quiet_log(coze):
    """Collect the module's log lines instead of printing them."""
    lines = []
    coze.set_log_sink(lines.append)
    yield lines
    coze.set_log_sink(None)
