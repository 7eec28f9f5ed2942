"""The proxy for a host is looked up once per proxy environment, not on every request (scanning
the whole environment cost about a millisecond per answer), and a changed HTTPS_PROXY or NO_PROXY
is still seen by the very next request."""
from yingdao_module import http_backends
from yingdao_module.http_stdlib import proxy_for


def test_one_lookup_per_host_and_environment(monkeypatch):
    lookups = []

    def find():
        lookups.append(1)
        return {"https": "http://proxy.example:8080"}
    monkeypatch.setattr(http_backends, "_proxy_memo", {})
    for _ in range(5):
        assert http_backends.remembered_proxy("test", ("https", "api.coze.cn", 443), find)["https"]
    assert len(lookups) == 1
    monkeypatch.setenv("NO_PROXY", "api.coze.cn")
    http_backends.remembered_proxy("test", ("https", "api.coze.cn", 443), find)
    assert len(lookups) == 2  # the environment changed: looked up again


def test_a_changed_proxy_environment_is_seen_at_once(monkeypatch):
    for name in http_backends.PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert proxy_for("https", "api.coze.cn") is None
    monkeypatch.setenv("HTTPS_PROXY", "proxy.example:3128")
    assert proxy_for("https", "api.coze.cn") == "http://proxy.example:3128"
    monkeypatch.setenv("NO_PROXY", ".coze.cn")
    assert proxy_for("https", "api.coze.cn") is None
