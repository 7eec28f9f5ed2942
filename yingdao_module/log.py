"""Where progress and warnings go.

Inside ShadowBot `print` is xbot's print, which writes to the run log panel (the header
imports it). The command line redirects log lines to stderr so stdout stays the answer.
Every line passes through redact(): a token pasted into the wrong field must not end up
in a log that users share when they ask for help.
"""
import re
import sys

_log_sink = None  # None: print(); else a callable taking one string
_TOKEN_PATTERN = re.compile(r"\b((?:pat|sat|czs)_)[A-Za-z0-9_\-]{6,}")
_PEM_PATTERN = re.compile(r"-----BEGIN[A-Z ]*PRIVATE KEY-----.*?(-----END[A-Z ]*PRIVATE KEY-----|$)", re.S)
_JWT_PATTERN = re.compile(r"\beyJ[A-Za-z0-9_\-]{6,}\.[A-Za-z0-9_\-]{6,}\.[A-Za-z0-9_\-]*")


def redact(text):
    """Mask anything shaped like a Coze token (pat_..., sat_..., czs_...), a private key or a JWT."""
    text = _PEM_PATTERN.sub("<私钥已隐藏>", text)
    text = _JWT_PATTERN.sub("<JWT 已隐藏>", text)
    return _TOKEN_PATTERN.sub(r"\1***", text)


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
