"""The stdlib RS256 signer (rsa_sign.py) against the `cryptography` package, in every
shape users paste a private key, and the Chinese errors for keys we cannot use."""
import pytest

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

PKCS8 = serialization.PrivateFormat.PKCS8
PKCS1 = serialization.PrivateFormat.TraditionalOpenSSL


def pem_of(key, fmt, password=None):
    encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, fmt, encryption).decode("ascii")


@pytest.fixture(scope="module")
def keys():
    return dict((bits, rsa.generate_private_key(public_exponent=65537, key_size=bits)) for bits in (1024, 2048, 3072))


@pytest.mark.parametrize("bits", [1024, 2048, 3072])
@pytest.mark.parametrize("fmt", [PKCS8, PKCS1], ids=["pkcs8", "pkcs1"])
def test_signature_equals_cryptography(coze, keys, bits, fmt):
    key = keys[bits]
    private = coze.load_private_key(pem_of(key, fmt))
    for message in (b"", b"header.payload", "扣子".encode("utf-8") * 500):
        expected = key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        assert private.sign_rs256(message) == expected
        key.public_key().verify(expected, message, padding.PKCS1v15(), hashes.SHA256())


def pasted_shapes(pem):
    yield "plain", pem
    yield "windows line ends", pem.replace("\n", "\r\n")
    yield "escaped one line", pem.strip().replace("\n", "\\n")
    yield "escaped windows", pem.strip().replace("\n", "\\r\\n")
    yield "spaces and quotes", '  "' + pem + '"  \n'
    yield "bytes", pem.encode("ascii")


def test_every_pasted_shape_gives_the_same_key(coze, keys, tmp_path):
    key = keys[2048]
    expected = key.sign(b"m", padding.PKCS1v15(), hashes.SHA256())
    for fmt in (PKCS8, PKCS1):
        pem = pem_of(key, fmt)
        for name, shape in pasted_shapes(pem):
            assert coze.load_private_key(shape).sign_rs256(b"m") == expected, name
        path = tmp_path / "private_key.pem"
        path.write_text(pem.replace("\n", "\r\n"), encoding="utf-8")
        assert coze.load_private_key(str(path)).sign_rs256(b"m") == expected
        assert coze.load_private_key("  %s \n" % path).sign_rs256(b"m") == expected


def test_repr_hides_the_key(coze, keys):
    pem = pem_of(keys[1024], PKCS8)
    private = coze.load_private_key(pem)
    text = repr(private) + str(private)
    assert "1024" in text
    body = "".join(pem.splitlines()[1:-1])
    assert body[:16] not in text and str(keys[1024].private_numbers().d)[:12] not in text


def bad_keys(keys, tmp_path):
    pem = pem_of(keys[1024], PKCS8)
    lines = pem.splitlines()
    yield "random text", "not a key at all", "不是 PEM"
    yield "missing end", "\n".join(lines[:-1]), "不完整"
    yield "cut lines", "\n".join(lines[:3] + lines[-1:]), "损坏"
    yield "bad base64", "\n".join(lines[:1] + ["这不是base64!!"] + lines[-1:]), "base64"
    yield "public key", keys[1024].public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode(), "公钥"
    yield "encrypted", pem_of(keys[1024], PKCS8, b"secret"), "密码"
    yield "ec key", pem_of(ec.generate_private_key(ec.SECP256R1()), PKCS8), "不是 RSA"
    yield "missing file", str(tmp_path / "nope.pem"), "读不到私钥文件"
    yield "number", 12345, "文本"


def test_bad_keys_are_refused_in_chinese_without_quoting_them(coze, keys, tmp_path):
    for name, value, words in bad_keys(keys, tmp_path):
        with pytest.raises(coze.InputError) as caught:
            coze.load_private_key(value)
        message = str(caught.value)
        assert words in message, (name, message)
        if name != "missing file":
            assert "私钥" in message and "BEGIN PRIVATE KEY" in message and "BEGIN RSA PRIVATE KEY" in message, name
        if isinstance(value, str) and "-----BEGIN" in value:
            body = "".join(value.splitlines()[1:-1])
            assert body[:20] not in message, name


def test_signing_uses_the_crt_numbers_of_the_key(coze, keys):
    """The key's p, q, dP, dQ, qInv are read (PKCS#1 and PKCS#8) and the CRT path signs."""
    numbers = keys[2048].private_numbers()
    for fmt in (PKCS8, PKCS1):
        private = coze.load_private_key(pem_of(keys[2048], fmt))
        assert private._crt == (numbers.p, numbers.q, numbers.dmp1, numbers.dmq1, numbers.iqmp)
        private._d = None  # the plain path, pow(m, d, n), would fail now
        expected = keys[2048].sign(b"crt", padding.PKCS1v15(), hashes.SHA256())
        assert private.sign_rs256(b"crt") == expected


def test_a_damaged_crt_number_never_gives_a_wrong_signature(coze, keys):
    """A key whose dP is off signs correctly all the same (checked with e, then plain d)."""
    private = coze.load_private_key(pem_of(keys[2048], PKCS1))
    p, q, dp, dq, qinv = private._crt
    private._crt = (p, q, dp + 2, dq, qinv)
    expected = keys[2048].sign(b"m", padding.PKCS1v15(), hashes.SHA256())
    assert private.sign_rs256(b"m") == expected


@pytest.mark.parametrize("fmt", [PKCS8, PKCS1], ids=["pkcs8-encrypted", "legacy-proc-type"])
def test_encrypted_keys_are_named_with_the_export_command(coze, keys, fmt):
    """PKCS#8 `ENCRYPTED PRIVATE KEY` and the legacy `Proc-Type: 4,ENCRYPTED` PEM (whose headers
    used to read as broken base64) both say: password protected, here is how to export one."""
    pem = pem_of(keys[1024], fmt, b"secret")
    assert ("Proc-Type: 4,ENCRYPTED" in pem) == (fmt is PKCS1)
    with pytest.raises(coze.InputError) as caught:
        coze.load_private_key(pem)
    message = str(caught.value)
    assert "密码保护" in message and "openssl pkcs8 -topk8 -nocrypt" in message and "openssl rsa -in" in message
    assert "base64" not in message
    assert "".join(pem.splitlines()[4:-1])[:20] not in message
