"""Encryption of provider secrets at rest: Fernet (AES-128-CBC with an
HMAC-SHA256 tag) from `cryptography`.

The key is ADE_ENCRYPTION_KEY (or ADE_ENCRYPTION_KEY_FILE): a Fernet key, or
any random string of at least 32 characters (stretched with HKDF). Unset, the
key is derived from Django's SECRET_KEY, so `make run` needs no configuration.
The trade-off: with the derived key, whoever reads the secret key can read
the provider keys, and the default secret key lives in ADE_DATA_DIR beside
the embedded database, so the encryption then protects database dumps and
an external database's backups, not a copy of the whole data directory; and
changing SECRET_KEY makes the stored keys unreadable (list the old secret key
in ADE_ENCRYPTION_OLD_KEYS). A separate key, kept in a secret store, avoids both.

Rotation: set the new key, list the old ones in ADE_ENCRYPTION_OLD_KEYS
(comma-separated; still accepted for reading), then run
`manage.py rotate_provider_keys` to re-encrypt every stored secret.
"""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


class SecretUnreadable(Exception):
    """A stored secret that none of the configured keys decrypts."""


def fernet_key(material: str) -> bytes:
    """A Fernet key as given, or one derived from a passphrase. HKDF suits
    high-entropy input only, hence the 32-character minimum in settings."""
    text = material.strip()
    try:
        if len(base64.urlsafe_b64decode(text.encode())) == 32 and len(text) == 44:
            return text.encode()
    except (binascii.Error, ValueError):
        pass
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"ade-provider-secrets", info=b"fernet-key"
    ).derive(text.encode())
    return base64.urlsafe_b64encode(derived)


@lru_cache(maxsize=8)
def _cipher(primary: str, old: tuple[str, ...], secret_key: str) -> MultiFernet:
    materials = [primary or secret_key, *old]
    if primary:
        # Secrets stored before ADE_ENCRYPTION_KEY was set stay readable; this
        # key only ever decrypts, so it weakens nothing stored under the new one.
        materials.append(secret_key)
    keys = list(dict.fromkeys(fernet_key(m) for m in materials if m))
    return MultiFernet([Fernet(k) for k in keys])


def cipher() -> MultiFernet:
    return _cipher(
        settings.ENCRYPTION_KEY, tuple(settings.ENCRYPTION_OLD_KEYS), settings.SECRET_KEY
    )


def encrypt(plaintext: str) -> str:
    """A token for `plaintext`; empty stays empty (no key given)."""
    if not plaintext:
        return ""
    return cipher().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return cipher().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(
            "A stored provider key cannot be decrypted with ADE_ENCRYPTION_KEY: list the key it "
            "was stored with in ADE_ENCRYPTION_OLD_KEYS, or set the provider's api_key again."
        ) from None


def rotate(token: str) -> str:
    """The same secret, encrypted with the current key."""
    if not token:
        return ""
    try:
        return cipher().rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(
            "A stored provider key cannot be decrypted with any configured key."
        ) from None
