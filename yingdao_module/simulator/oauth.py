"""OAuth service: POST /api/permission/oauth2/token, the JWT flow of a service app (服务类应用).

Verified for real, like the service does: the RS256 signature with the app's public key
(s^e mod n against the EMSA-PKCS1-v1_5 encoding, standard library only), the header's
alg and kid, the claims iss, aud, iat/exp (exp ≤ iat + 86399, not expired), a jti never
seen before, and the grant type. Then it issues access tokens (czs_...) and, while an
OAuth app is configured, accepts only those, until they expire or revoke() drops them.

aud: the real service expects the API host (api.coze.cn). cozepy sends the netloc of its
base URL, "127.0.0.1:PORT" for a simulator; a client may also send the bare host
"127.0.0.1". Both are accepted; anything else is refused.

Refusals look like the service's OAuth errors: HTTP 401 (400 for a bad grant type) and
{"error_code": ..., "error_message": "invalid jwt: ..."} (e.g. "kid not been registred",
spelled as the real service spells it).
"""
import base64
import binascii
import json
import os
import threading
import time

from ..rsa_sign import der_children, der_integers, der_items, emsa_pkcs1_sha256, pem_text, RSA_ENCRYPTION_OID

TOKEN_PATH = "/api/permission/oauth2/token"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
MAX_SECONDS = 86399      # the longest JWT and access token the service grants
DEFAULT_DURATION = 900   # what the service grants when duration_seconds is missing
CLOCK_LEEWAY = 60        # an iat this far in the future is still accepted


def load_public_key(value):
    """(n, e) from a PEM public key (SubjectPublicKeyInfo or PKCS#1), text or file path."""
    text = pem_text(value)
    if "-----BEGIN" not in text and os.path.isfile(text):
        with open(text, "r", encoding="utf-8-sig") as handle:
            text = pem_text(handle.read())
    for kind in ("PUBLIC KEY", "RSA PUBLIC KEY"):
        begin, end = "-----BEGIN %s-----" % kind, "-----END %s-----" % kind
        if begin in text and end in text:
            body = text.split(begin, 1)[1].split(end, 1)[0]
            try:
                der = base64.b64decode("".join(body.split()), validate=True)
                if kind == "RSA PUBLIC KEY":
                    return tuple(der_integers(der_children(der), 2))
                algorithm, bits = der_children(der)[:2]
                if der_items(algorithm[1])[0] != (0x06, RSA_ENCRYPTION_OID) or bits[0] != 0x03:
                    raise ValueError("not RSA")
                return tuple(der_integers(der_children(bits[1][1:]), 2))  # skip the unused-bits byte
            except (binascii.Error, ValueError, IndexError):
                break
    raise ValueError("--oauth-public-key 应是 RSA 公钥的 PEM 文本或 .pem 文件路径"
                     "(-----BEGIN PUBLIC KEY----- 或 -----BEGIN RSA PUBLIC KEY-----)")


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class OAuthApp(object):
    """One service app the simulator knows: its public key, the jtis it saw, the tokens it issued."""

    def __init__(self, app_id, key_id, public_key, token_life=None):
        if not (app_id and key_id and public_key):
            raise ValueError("模拟 OAuth 应用需要同时给出 --oauth-app-id、--oauth-key-id 和 --oauth-public-key")
        if token_life is not None and not 0 < float(token_life) <= MAX_SECONDS:
            raise ValueError("--oauth-token-life 应是 1 到 86399 之间的秒数")
        self.app_id, self.key_id = str(app_id), str(key_id)
        self.n, self.e = load_public_key(public_key)
        self.token_life = None if token_life is None else float(token_life)
        self.lock = threading.Lock()
        self.jtis = set()
        self.issued = {}  # access token -> expiry (time.time())

    def check_jwt(self, jwt, audiences, now):
        """None when the JWT is good, else the reason the service would give."""
        parts = jwt.split(".")
        if len(parts) != 3:
            return "invalid jwt: malformed"
        try:
            header, payload = json.loads(b64url_decode(parts[0])), json.loads(b64url_decode(parts[1]))
            signature = int.from_bytes(b64url_decode(parts[2]), "big")
        except (ValueError, binascii.Error):
            return "invalid jwt: malformed"
        if not isinstance(header, dict) or not isinstance(payload, dict):
            return "invalid jwt: malformed"
        if header.get("alg") != "RS256":
            return "invalid jwt: alg must be RS256"
        if header.get("kid") != self.key_id:
            return "invalid jwt: kid not been registred"
        size = (self.n.bit_length() + 7) // 8
        signed = (parts[0] + "." + parts[1]).encode("ascii")
        if signature >= self.n or pow(signature, self.e, self.n).to_bytes(size, "big") != emsa_pkcs1_sha256(signed, size):
            return "invalid jwt: signature verification failed"
        if payload.get("iss") != self.app_id:
            return "invalid jwt: iss is not the app id"
        if payload.get("aud") not in audiences:
            return "invalid jwt: invalid aud"
        iat, exp = payload.get("iat"), payload.get("exp")
        if not isinstance(iat, int) or not isinstance(exp, int) or exp > iat + MAX_SECONDS:
            return "invalid jwt: iat/exp invalid (exp must be at most iat + 86399)"
        if exp <= now:
            return "invalid jwt: token is expired"
        if iat > now + CLOCK_LEEWAY:
            return "invalid jwt: iat is in the future"
        jti = payload.get("jti")
        with self.lock:
            if not jti or jti in self.jtis:
                return "invalid jwt: jti reused"
            self.jtis.add(jti)
        return None

    def issue(self, duration, now):
        """(access token, expiry) for a good JWT."""
        life = duration if self.token_life is None else min(duration, self.token_life)
        token = "czs_" + os.urandom(24).hex()
        with self.lock:
            self.issued[token] = now + life
        return token, now + life

    def accepts(self, token, now):
        """'ok', 'expired' or 'unknown' for an access token in an Authorization header."""
        with self.lock:
            expiry = self.issued.get(token)
        if expiry is None:
            return "unknown"
        return "ok" if now < expiry else "expired"

    def revoke(self):
        with self.lock:
            self.issued.clear()


class OAuthRoutes(object):
    ROUTES = {("POST", TOKEN_PATH): "oauth_token"}

    def oauth_refuse(self, reason, status=401, error_code="invalid_request"):
        with self.sim.lock:
            self.sim.counters["oauth_refused"] += 1
        self.send_json({"error_code": error_code, "error_message": reason}, status)

    def oauth_token(self, query, body, raw, fault):
        app = self.sim.oauth
        if app is None:
            return self.oauth_refuse("invalid jwt: no OAuth app on this simulator (serve --oauth-app-id ...)")
        if body.get("grant_type") != JWT_GRANT:
            return self.oauth_refuse("unsupported grant_type", 400, "unsupported_grant_type")
        duration = body.get("duration_seconds") or DEFAULT_DURATION
        if not isinstance(duration, int) or not 0 < duration <= MAX_SECONDS:
            return self.oauth_refuse("duration_seconds must be between 1 and 86399", 400)
        auth = self.headers.get("Authorization", "")
        hosts = (self.headers.get("Host") or "", self.sim.url.split("://", 1)[1])
        audiences = set(h for host in hosts if host for h in (host, host.rsplit(":", 1)[0]))
        now = time.time()
        reason = app.check_jwt(auth[7:].strip() if auth.startswith("Bearer ") else "", audiences, now)
        if reason:
            return self.oauth_refuse(reason)
        token, expiry = app.issue(duration, now)
        with self.sim.lock:
            self.sim.counters["oauth_exchanges"] += 1
        # expires_in is a unix timestamp, rounded down: a client never believes it lives longer
        self.send_json({"access_token": token, "expires_in": int(expiry), "token_type": "Bearer"})
