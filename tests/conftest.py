"""Shared fixtures: every client test runs against the source package AND the built
dist/coze.py (what users paste), with `requests` and with the urllib fallback."""
import importlib

import pytest

from helpers import dist_name, load_dist
from build import DIST_MODULES

SOURCE_MODULES = [name for name, _ in DIST_MODULES]
_shared_dist = []  # dist/coze.py executed once per test run; the coze fixture resets its state per test
RETRY_FIELDS = {"MAX_RETRIES": "max_retries", "BACKOFF_BASE": "backoff_base", "BACKOFF_CAP": "backoff_cap",
                "RETRY_AFTER_CAP": "retry_after_cap"}


class Coze(object):
    """One flavour of the module: attribute access finds a name wherever it lives;
    patch() changes a module-level setting where the code reads it."""

    def __init__(self, flavour, monkeypatch):
        self.flavour = flavour
        self._monkeypatch = monkeypatch
        if flavour == "dist":
            if not _shared_dist:
                _shared_dist.append(load_dist())
            self._modules = [_shared_dist[0]]
        else:
            import yingdao_module
            self._modules = [yingdao_module]
            for name in SOURCE_MODULES:
                try:
                    self._modules.append(importlib.import_module("yingdao_module." + name))
                except ImportError:
                    pass

    def where(self, name):
        """(module, name there) for every module that defines `name`."""
        if self.flavour == "dist":
            return [(module, dist_name(module, name)) for module in self._modules
                    if dist_name(module, name) in vars(module)]
        return [(module, name) for module in self._modules[1:] if name in vars(module)]

    def __getattr__(self, name):
        module, found = (self.where(name) or [(self._modules[0], name)])[0]
        return getattr(module, found)

    def patch(self, name, value):
        """Set a module-level name for this test. A retry default (BACKOFF_BASE, ...) changes that
        field of DEFAULT_RETRY, the policy every client uses unless given its own."""
        if name in RETRY_FIELDS:
            name, value = "DEFAULT_RETRY", self.DEFAULT_RETRY.replace(**{RETRY_FIELDS[name]: value})
        places = self.where(name)
        assert places, name
        for module, found in places:
            self._monkeypatch.setattr(module, found, value)

    def reset_clients(self):
        self._clients.clear()
        self._jwt_apps.clear()

    def reset_state(self):
        """What a module keeps between calls, cleared: cached clients and OAuth apps, one-time
        notices, sniffed table encodings, the log sink. (Patched names are undone by monkeypatch.)"""
        self.reset_clients()
        self._said_once.clear()
        self._sniffed.clear()
        self.set_log_sink(None)


@pytest.fixture(params=["source", "dist"])
def coze(request, monkeypatch):
    """The module under test, with fast backoff and polling pace so retry and polling tests stay quick."""
    module = Coze(request.param, monkeypatch)
    module.patch("POLL_PACE", 0.1)
    module.patch("DEFAULT_RETRY", module.RetryPolicy(backoff_base=0.01, backoff_cap=0.05, retry_after_cap=0.05))
    module.reset_state()
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
    with Simulator(latency=0.02) as server:
        yield server


@pytest.fixture
def route():
    """RawServer factory (tests/rawserver.py); every server is stopped at the end of the test."""
    from rawserver import RawServer
    servers = []

    def make(routes, **kw):
        server = RawServer(routes, **kw).__enter__()
        servers.append(server)
        return server
    yield make
    for server in servers:
        server.__exit__()


@pytest.fixture
def quiet_log(coze):
    """Collect the module's log lines instead of printing them."""
    lines = []
    coze.set_log_sink(lines.append)
    yield lines
    coze.set_log_sink(None)


@pytest.fixture(autouse=True)
def own_state_folder(tmp_path_factory, monkeypatch):
    """Each test gets its own rate-limit state folder (COZE_STATE_DIR): no test sees another's
    window or daily count, and nothing is written to the user's real folder."""
    monkeypatch.setenv("COZE_STATE_DIR", str(tmp_path_factory.mktemp("coze_state")))
