"""RSA private keys and RS256 signatures with the standard library only.

A Coze OAuth service app (服务类应用) signs its JWT with an RSA private key. ShadowBot's
Python may have no `cryptography`, so the key is parsed here: PEM → base64 → DER (a
tiny ASN.1 reader), PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1 (`BEGIN RSA PRIVATE KEY`),
and the signature is RSASSA-PKCS1-v1_5 with SHA-256: EM^d mod n, computed with the key's CRT
numbers (two half-size exponentiations, ~3x faster) and checked with the public exponent.

The key is accepted as users paste it: real line breaks, Windows line ends, surrounding
spaces or quotes, the `\\n`-escaped one-line form, or the path of a .pem file. Nothing
here ever puts key material into an error message or a repr.
"""
import base64
import binascii
import hashlib
import os
import re

from .errors import InputError

# DigestInfo prefix for SHA-256 (RFC 8017, section 9.2, note 1)
SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
RSA_ENCRYPTION_OID = bytes.fromhex("2a864886f70d010101")  # 1.2.840.113549.1.1.1

_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.S)
_KEY_SHAPES = ("私钥应是 PEM 文本,形如「-----BEGIN PRIVATE KEY-----」……「-----END PRIVATE KEY-----」(PKCS#8)"
               "或「-----BEGIN RSA PRIVATE KEY-----」……「-----END RSA PRIVATE KEY-----」(PKCS#1),"
               "也可以填 .pem 私钥文件的路径")


def private_key_error(problem):
    """The one error for a private key we cannot use; it never quotes the key."""
    return InputError("私钥(private_key)%s:%s。私钥在扣子 OAuth 应用(服务类应用)页面创建公钥时下载" % (problem, _KEY_SHAPES))


def encrypted_key_error(marker):
    """A password-protected key: name it and say how to export an unencrypted copy."""
    return InputError("私钥(private_key)有密码保护(%s),本模块只支持不加密的私钥。请用 OpenSSL 导出一份不加密的:"
                      "openssl pkcs8 -topk8 -nocrypt -in 加密的私钥.pem -out 私钥.pem(会问一次密码);"
                      "或 openssl rsa -in 加密的私钥.pem -out 私钥.pem。导出的文件以「-----BEGIN PRIVATE KEY-----」"
                      "或「-----BEGIN RSA PRIVATE KEY-----」开头,请放在密码类型的全局变量 coze_private_key" % marker)


# ---- PEM ------------------------------------------------------------------------------

def pem_text(value):
    """Normalise pasted PEM text: quotes, spaces, `\\n` escapes, Windows line ends."""
    text = value.strip().strip("'\"“”‘’").strip()
    text = text.replace("\\r", "").replace("\\n", "\n").replace("\r\n", "\n").replace("\r", "\n")
    return text


def read_key_source(value):
    """PEM text from the value itself or from the file it names."""
    if not isinstance(value, (str, bytes)):
        raise private_key_error("应该是文本,现在是 %s" % type(value).__name__)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = pem_text(value)
    if "-----BEGIN" in text:
        return text
    if "\n" not in text and len(text) < 400 and (os.path.isfile(text) or re.search(r"\.(pem|key|txt)$", text, re.I)):
        try:
            with open(text, "r", encoding="utf-8-sig") as handle:
                return pem_text(handle.read())
        except (OSError, UnicodeDecodeError) as err:
            # a path is no secret: name it so the user can fix it
            raise InputError("读不到私钥文件 %s(%s):检查路径是否正确、文件是否存在" % (text, type(err).__name__))
    raise private_key_error("不是 PEM 格式,也不是存在的 .pem 文件路径")


def pem_der(text):
    """(kind, DER bytes) of the first private key block in PEM text."""
    blocks = _PEM_BLOCK.findall(text)
    if not blocks:
        raise private_key_error("的开头或结尾不完整(缺 -----BEGIN/-----END 行)")
    for kind, body in blocks:
        legacy_encrypted = re.search(r"^Proc-Type:\s*4\s*,\s*ENCRYPTED", body, re.M | re.I)
        if kind in ("PRIVATE KEY", "RSA PRIVATE KEY") and legacy_encrypted:
            raise encrypted_key_error("Proc-Type: 4,ENCRYPTED")  # legacy OpenSSL encryption: headers before the base64
        if kind in ("PRIVATE KEY", "RSA PRIVATE KEY"):
            try:
                return kind, base64.b64decode(re.sub(r"\s+", "", body), validate=True)
            except (binascii.Error, ValueError):
                raise private_key_error("的内容不是有效的 base64(可能复制时少了字符或混入了中文)")
    kinds = [kind for kind, _ in blocks]
    if "ENCRYPTED PRIVATE KEY" in kinds:
        raise encrypted_key_error("ENCRYPTED PRIVATE KEY")
    if "PUBLIC KEY" in kinds or "RSA PUBLIC KEY" in kinds or "CERTIFICATE" in kinds:
        raise private_key_error("填成了公钥或证书,这里需要私钥")
    raise private_key_error("的类型是 %s,不支持" % kinds[0])


# ---- DER (the few ASN.1 shapes RSA keys use) ------------------------------------------

def der_item(data, pos):
    """(tag, value bytes, next position) of the DER item at `pos`."""
    if pos + 2 > len(data):
        raise ValueError("truncated")
    tag, length = data[pos], data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise ValueError("bad length")
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise ValueError("truncated")
    return tag, data[pos:pos + length], pos + length


def der_children(data, expected_tag=0x30):
    """The items inside one SEQUENCE (or other constructed item) that fills `data`."""
    tag, body, end = der_item(data, 0)
    if tag != expected_tag or end != len(data):
        raise ValueError("unexpected structure")
    return der_items(body)


def der_items(body):
    """(tag, value) of each item laid end to end in `body`."""
    items, pos = [], 0
    while pos < len(body):
        tag, value, pos = der_item(body, pos)
        items.append((tag, value))
    return items


def der_integers(items, count):
    if len(items) < count or any(tag != 0x02 for tag, _ in items[:count]):
        raise ValueError("expected integers")
    return [int.from_bytes(value, "big") for _, value in items[:count]]


def rsa_numbers_pkcs1(der):
    """(n, e, d, crt) of a PKCS#1 RSAPrivateKey: SEQUENCE {version, n, e, d, p, q, dP, dQ, qInv};
    crt is (p, q, dP, dQ, qInv), or None when the key lacks them."""
    items = der_children(der)
    version, n, e, d = der_integers(items, 4)
    if version not in (0, 1):
        raise ValueError("unknown version")
    crt = tuple(der_integers(items[4:], 5)) if len(items) >= 9 else None
    return n, e, d, crt


def rsa_numbers_pkcs8(der):
    """(n, e, d, crt) of a PKCS#8 PrivateKeyInfo holding an RSA key."""
    items = der_children(der)
    if len(items) < 3 or items[1][0] != 0x30 or items[2][0] != 0x04:
        raise ValueError("not PKCS#8")
    algorithm = der_items(items[1][1])
    if not algorithm or algorithm[0] != (0x06, RSA_ENCRYPTION_OID):
        raise TypeError("not RSA")
    return rsa_numbers_pkcs1(items[2][1])


# ---- the key ----------------------------------------------------------------------------

class RsaPrivateKey(object):
    """An RSA private key that can sign RS256. Its repr shows only the key size."""

    def __init__(self, n, e, d, crt=None):
        self._n, self._e, self._d = n, e, d
        self._crt = crt if crt and crt[0] * crt[1] == n else None  # (p, q, dP, dQ, qInv)
        self.size = (n.bit_length() + 7) // 8
        # a stable id for caches: a hash of the public part, never the secret
        self.fingerprint = hashlib.sha256(str((n, e)).encode("ascii")).hexdigest()

    def sign_rs256(self, message):
        """RSASSA-PKCS1-v1_5 signature of `message` (bytes) with SHA-256."""
        encoded = int.from_bytes(emsa_pkcs1_sha256(message, self.size), "big")
        signature = self._power(encoded)
        if pow(signature, self._e, self._n) != encoded:  # a damaged CRT number: never send a wrong signature
            signature = pow(encoded, self._d, self._n)
        return signature.to_bytes(self.size, "big")

    def _power(self, value):
        """value^d mod n; with the CRT numbers, two exponentiations modulo the half-size primes."""
        if self._crt is None:
            return pow(value, self._d, self._n)
        p, q, dp, dq, qinv = self._crt
        mp, mq = pow(value, dp, p), pow(value, dq, q)
        return mq + q * ((qinv * (mp - mq)) % p)

    def __repr__(self):
        return "RsaPrivateKey(%d 位, 内容已隐藏)" % self._n.bit_length()


def emsa_pkcs1_sha256(message, size):
    """EMSA-PKCS1-v1_5 encoding: 00 01 FF..FF 00 DigestInfo(SHA-256(message))."""
    digest_info = SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
    padding = size - len(digest_info) - 3
    if padding < 8:
        raise ValueError("RSA key too small for SHA-256")
    return b"\x00\x01" + b"\xff" * padding + b"\x00" + digest_info


def load_private_key(value):
    """An RsaPrivateKey from PEM text (any pasted shape) or a .pem path; InputError otherwise."""
    if isinstance(value, RsaPrivateKey):
        return value
    kind, der = pem_der(read_key_source(value))
    try:
        n, e, d, crt = rsa_numbers_pkcs8(der) if kind == "PRIVATE KEY" else rsa_numbers_pkcs1(der)
    except TypeError:
        raise private_key_error("不是 RSA 私钥(扣子服务类应用用 RSA 密钥)")
    except (ValueError, IndexError):
        raise private_key_error("的内容不完整或已损坏(可能复制时少了几行)")
    if n.bit_length() < 1024 or not 1 < d < n:
        raise private_key_error("的内容不完整或已损坏(可能复制时少了几行)")
    return RsaPrivateKey(n, e, d, crt)
