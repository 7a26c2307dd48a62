"""The instance secret, and encryption at rest derived from it.

The secret key is generated into the instance folder on first run (mode 600)
unless SECRET_KEY is configured; there is no built-in default. Voter passwords
and Constant Contact tokens are encrypted with Fernet keys derived from it.
"""
import base64
import hashlib
import hmac
import os
import secrets

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SECRET_FILE = "secret_key"


def load_or_create_secret(instance_path):
    """Read instance/secret_key, creating it with mode 600 the first time."""
    path = os.path.join(instance_path, SECRET_FILE)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        with open(path) as f:
            return f.read().strip()
    key = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key


def init_app(app):
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = load_or_create_secret(app.instance_path)


def derive_key(secret_key, purpose):
    """A 32-byte key for one purpose, derived from the instance secret (HKDF-SHA256)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"eo_cc", info=purpose.encode())
    return hkdf.derive(secret_key.encode() if isinstance(secret_key, str) else secret_key)


class Box:
    """Encrypt and decrypt short texts at rest for one purpose ("voter-passwords", "cc-tokens")."""

    def __init__(self, secret_key, purpose):
        self._fernet = Fernet(base64.urlsafe_b64encode(derive_key(secret_key, purpose)))

    def seal(self, text):
        return self._fernet.encrypt(text.encode()).decode()

    def open(self, token):
        """Decrypt; raises ValueError when the text was not sealed with this key."""
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as error:
            raise ValueError("cannot decrypt: wrong key or damaged data") from error


def sign(secret_key, purpose, message):
    """A URL-safe HMAC-SHA256 of message, keyed for one purpose."""
    mac = hmac.new(derive_key(secret_key, purpose), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


# No 0/O, 1/I. 256 is a multiple of 32, so mapping random bytes onto it is unbiased.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_CODE_TABLE = bytes((CODE_ALPHABET * 8).encode())


def random_codes(count, length):
    """count random codes in an unambiguous alphabet (no 0/O, 1/I); fast for a 100,000-voter roster."""
    letters = secrets.token_bytes(count * length).translate(_CODE_TABLE).decode()
    return [letters[i:i + length] for i in range(0, count * length, length)]


def random_code(length=12):
    """One random code in the same alphabet, e.g. a receipt code."""
    return random_codes(1, length)[0]


def ballot_link_token(secret_key, voter_id, link_version):
    """The token in a voter's personal ballot link; bumping link_version revokes it."""
    return sign(secret_key, "ballot-link", f"{voter_id}:{link_version}")
