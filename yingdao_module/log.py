"""Where progress and warnings go, and the one place secrets are masked.

Inside ShadowBot `print` is xbot's print, which writes to the run log panel (the header
imports it). The command line redirects log lines to stderr so stdout stays the answer.
redact() masks anything shaped like a secret; every log line and every CozeError message
(hence args["error"] and the error column of batch outputs) passes through it, so a token
pasted into the wrong field or echoed by a server never ends up in a log users share.
"""
import re
import sys

_log_sink = None  # None: print(); else a callable taking one string

# What a secret looks like. Ids stay readable: chat/conversation ids are 19 digits, Coze logids
# are a 14-digit timestamp plus ~20 hex digits (34 characters), simulator logids 32 hex digits.
_SECRET_PATTERNS = [
    # PEM private keys with key material (a "-----BEGIN PRIVATE KEY-----…" format hint stays readable)
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----(?=\s*[A-Za-z0-9+/=]{16}).*?(-----END [A-Z ]*PRIVATE KEY-----|$)",
                re.S), "<私钥已隐藏>"),
    # Coze tokens: personal (pat_), service (sat_), OAuth access tokens (czs_)
    (re.compile(r"(?<![A-Za-z0-9])(pat|sat|czs)_[A-Za-z0-9_\-]{6,}", re.I), r"\1_***"),
    # JWTs: base64url header "eyJ..." . payload . signature (a short one is still a token)
    (re.compile(r"\beyJ[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]+\.?[A-Za-z0-9_\-]*"), "eyJ***"),
    # long hex secrets (40+ digits, at least one letter): keys, hashes of keys
    (re.compile(r"(?<![0-9A-Za-z])(?=[0-9]*[A-Fa-f])[0-9A-Fa-f]{40,}(?![0-9A-Za-z])"), "***"),
    # long base64 / base64url secrets mixing upper case, lower case and digits
    (re.compile(r"(?<![A-Za-z0-9+_\-])(?=[A-Za-z0-9+_\-]*[a-z])(?=[A-Za-z0-9+_\-]*[A-Z])(?=[A-Za-z0-9+_\-]*[0-9])"
                r"[A-Za-z0-9+_\-]{40,}={0,2}"), "***"),
]


_TOKEN_SHAPES = _SECRET_PATTERNS[:3]  # unmistakable: private keys, Coze tokens, JWTs


def looks_like_token(text):
    """True when `text` holds a private key, a Coze token or a JWT (not merely a long id)."""
    return isinstance(text, str) and any(pattern.search(text) for pattern, _ in _TOKEN_SHAPES)


def redact(text):
    """`text` with every token, JWT, private key and long random secret masked."""
    text = text if isinstance(text, str) else str(text)
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def log(message):
    """Write one line to the ShadowBot log panel, or wherever set_log_sink() points."""
    message = redact(str(message))
    if _log_sink is not None:
        _log_sink(message)
        return
    try:
        print(message)
    except Exception:  # a closed or non-UTF-8 console must never break a paid call
        pass


def set_log_sink(sink):
    """Send log lines to `sink(line)` instead of print; None restores print."""
    global _log_sink
    _log_sink = sink


def log_to_stderr(message):
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
