"""An OAuth service app (服务类应用) for tests: its ids and an RSA key pair as the 扣子 app page gives it."""
import os

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

APP_ID = "1155487900000000001"
KEY_ID = "kid_2f7c3b9e0a1d"


class AppKey(object):
    """An RSA key pair as the 扣子 OAuth app page would give it: private PEM and public PEM."""

    def __init__(self, bits=1024, folder=None):
        key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        self.pkcs8 = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()).decode("ascii")
        self.pkcs1 = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                       serialization.NoEncryption()).decode("ascii")
        self.public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                                    serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")
        self.secret_pieces = [line for pem in (self.pkcs8, self.pkcs1) for line in pem.splitlines()[2:-2]]
        if folder is not None:
            self.private_path = os.path.join(folder, "coze_private_key.pem")
            self.public_path = os.path.join(folder, "coze_public_key.pem")
            for path, text in ((self.private_path, self.pkcs8), (self.public_path, self.public)):
                with open(path, "w", encoding="utf-8") as handle:
                    handle.write(text)
