"""RS256 signing speed, side by side in one run: our pure-Python signer (rsa_sign.py, with the
key's CRT numbers), the same key without them (plain d), and the `cryptography` package.

    python tests/benchmarks/bench_sign.py [rounds]
"""
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from helpers import load_dist_quiet  # noqa: E402


def sign_times(rounds=40, bits=2048):
    """{approach: median ms per signature}, the approaches interleaved signature by signature."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode("ascii")
    coze = load_dist_quiet("coze_sign_bench")
    crt, plain = coze.load_private_key(pem), coze.load_private_key(pem)
    plain._crt = None
    approaches = {"ours (CRT)": crt.sign_rs256, "ours without CRT (plain d)": plain.sign_rs256,
                  "cryptography": lambda m: key.sign(m, padding.PKCS1v15(), hashes.SHA256())}
    times = dict((name, []) for name in approaches)
    for number in range(rounds):
        message = b"header.payload.%d" % number
        for name, sign in approaches.items():
            started = time.perf_counter()
            sign(message)
            times[name].append(1000 * (time.perf_counter() - started))
    return dict((name, statistics.median(values)) for name, values in times.items())


def markdown(figures):
    lines = ["### RS256 签名 / RS256 signing (2048-bit key, median of interleaved signatures)", "",
             "| signer | per signature |", "|---|---|"]
    lines += ["| %s | %.2f ms |" % (name, ms) for name, ms in figures.items()]
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(sign_times(int(sys.argv[1]) if len(sys.argv) > 1 else 40)))
