"""TLS: a local HTTPS server with a self-signed certificate made in the test. Without the
certificate in a trusted bundle the call fails once, saying 证书校验失败 and how to fix it
(COZE_CA_FILE), and is not retried; with COZE_CA_FILE (or REQUESTS_CA_BUNDLE / SSL_CERT_FILE)
pointing at the certificate, it answers. Both backends, source and dist."""
import datetime
import ipaddress
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from rawserver import SSE, RawServer, reply
from chat_script import BOT, FINISHED, STARTED, TOKEN

CA_VARIABLES = ("COZE_CA_FILE", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """(cert.pem, key.pem) of a self-signed certificate for 127.0.0.1 and localhost."""
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, u"127.0.0.1")])
    now = datetime.datetime.utcnow()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(u"127.0.0.1")),
                                                        x509.DNSName(u"localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


@pytest.fixture
def https_server(certificate, monkeypatch):
    for name in CA_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    with RawServer({"/v3/chat": [reply(200, SSE, STARTED + FINISHED)]}, tls_context=context) as server:
        yield server


def test_an_untrusted_certificate_says_so_names_the_fix_and_is_not_retried(coze, backend, https_server):
    with pytest.raises(coze.CozeError) as caught:
        coze.ask("你好", bot_id=BOT, token=TOKEN, base_url=https_server.url)
    message = str(caught.value)
    assert "证书校验失败" in message and "COZE_CA_FILE" in message and "127.0.0.1" in message
    assert not caught.value.retryable and caught.value.fatal  # a batch stops instead of failing every row
    assert https_server.connections == 1 and https_server.requests == []


@pytest.mark.parametrize("variable", ["COZE_CA_FILE", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"])
def test_a_ca_bundle_from_the_environment_is_trusted(coze, backend, https_server, certificate, monkeypatch,
                                                     variable):
    monkeypatch.setenv(variable, certificate[0])
    assert coze.ask("你好", bot_id=BOT, token=TOKEN, base_url=https_server.url) == "杭州今天晴。"
    assert https_server.requests[0].headers["authorization"] == "Bearer " + TOKEN


def test_a_ca_file_set_after_the_first_call_is_used_by_the_same_cached_client(coze, backend, https_server,
                                                                             certificate, monkeypatch):
    """Users set COZE_CA_FILE from a Python block after a first failure; no restart needed."""
    kw = dict(bot_id=BOT, token=TOKEN, base_url=https_server.url)
    with pytest.raises(coze.CozeError):
        coze.ask("你好", **kw)
    monkeypatch.setenv("COZE_CA_FILE", certificate[0])
    assert coze.ask("你好", **kw) == "杭州今天晴。"
    assert len(coze._clients) == 1  # the same client both times
