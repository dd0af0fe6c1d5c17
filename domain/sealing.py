"""Sealing personal data with AES-256-GCM under a ring of keys (payloads sent to Temporal, the
accepted intake kept in the case records), and keyed hashes of ID numbers (``index``: what
finds a case by a person without keeping the person's number).

Keys have ids: the current one seals, every one in the ring opens, so a key is rotated by
adding a new one beside the old ones and making it current. A sealed text names its key; a
keyed hash is kept beside the id of its key.

Pure computation: the caller supplies the random nonce (``os.urandom(NONCE_BYTES)``), so that
nothing here draws randomness; never seal from workflow code.
"""

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_BYTES = 32
NONCE_BYTES = 12
KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
"""A key id travels in payload metadata and in sealed texts: short, no separators."""
TEXT_PREFIX = "aes-gcm:"
"""How a sealed text starts (a plain JSON text starts with ``{``)."""
INDEX_PURPOSE = b"jiuzhu: keyed hash of a person's ID number"
"""The HKDF info that derives each key's hashing key from it: a purpose of its own, so the
AES key itself never hashes, and nothing sealed can be taken for a hash or the reverse."""


class KeyConfigError(Exception):
    """The configured keys cannot be used (a malformed key, an unknown current id). Not a
    ``ValueError``: pydantic would wrap it with the input, the keys themselves."""


class Unsealable(Exception):
    """Sealed data that this ring cannot open."""


@dataclass(frozen=True)
class Sealed:
    key_id: str
    data: bytes
    """The nonce, then the ciphertext with its tag."""

    def as_text(self) -> str:
        """``aes-gcm:<key id>:<base64>``, for a text column."""
        return f"{TEXT_PREFIX}{self.key_id}:{base64.b64encode(self.data).decode()}"

    @classmethod
    def from_text(cls, text: str) -> "Sealed":
        key_id, _, data = text.removeprefix(TEXT_PREFIX).partition(":")
        try:
            return cls(key_id, base64.b64decode(data, validate=True))
        except binascii.Error:
            raise Unsealable("the sealed text is damaged (not base64)") from None


def is_sealed_text(text: str) -> bool:
    return text.startswith(TEXT_PREFIX)


class KeyRing:
    """AES-256-GCM keys by id (each the base64 of 32 bytes); ``current`` seals."""

    def __init__(self, keys: Mapping[str, str], *, current: str) -> None:
        if not keys:
            raise KeyConfigError("no encryption key is configured (JIUZHU_ENCRYPTION_KEYS)")
        raw = {key_id: _key(key_id, value) for key_id, value in keys.items()}
        self._keys = {key_id: AESGCM(key) for key_id, key in raw.items()}
        self._index_keys = {key_id: _index_key(key) for key_id, key in raw.items()}
        if current not in self._keys:
            known = ", ".join(sorted(self._keys))
            raise KeyConfigError(
                f"the current encryption key '{current}' (JIUZHU_ENCRYPTION_KEY_ID) is not "
                f"among the configured keys ({known})"
            )
        self.current = current

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._keys)

    def seal(self, plaintext: bytes, *, purpose: bytes, nonce: bytes) -> Sealed:
        """Encrypt under the current key. ``purpose`` is authenticated, not stored: what was
        sealed for one use (a payload, one case's intake) does not open for another."""
        if len(nonce) != NONCE_BYTES:
            raise ValueError(f"an AES-GCM nonce has {NONCE_BYTES} bytes")
        aad = _aad(self.current, purpose)
        return Sealed(self.current, nonce + self._keys[self.current].encrypt(nonce, plaintext, aad))

    def index(self, text: str, *, key_id: str | None = None) -> str:
        """HMAC-SHA256 of ``text`` under ``key_id``'s hashing key (the current key's by
        default), in hex: the same text and key always give the same hash, so a row kept with
        it is found again; without the key it cannot be told from chance."""
        key = self._index_keys.get(key_id or self.current)
        if key is None:
            raise Unsealable(
                f"key '{key_id}' is not configured (JIUZHU_ENCRYPTION_KEYS): add it back to "
                "the ring to read what was hashed with it"
            )
        return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()

    def indexes(self, text: str) -> dict[str, str]:
        """``text``'s hash under every key of the ring, by key id: what looks a row up
        whichever key it was kept under."""
        return {key_id: self.index(text, key_id=key_id) for key_id in sorted(self._index_keys)}

    def open(self, sealed: Sealed, *, purpose: bytes) -> bytes:
        key = self._keys.get(sealed.key_id)
        if key is None:
            raise Unsealable(
                f"the data was encrypted with key '{sealed.key_id}', which is not configured "
                "(JIUZHU_ENCRYPTION_KEYS): add that key back to the ring to read it"
            )
        nonce, ciphertext = sealed.data[:NONCE_BYTES], sealed.data[NONCE_BYTES:]
        try:
            return key.decrypt(nonce, ciphertext, _aad(sealed.key_id, purpose))
        except (InvalidTag, ValueError):
            raise Unsealable(
                f"the data sealed with key '{sealed.key_id}' does not open: it was altered, "
                "or that key id names a different key than the one it was sealed with"
            ) from None


def _key(key_id: str, value: str) -> bytes:
    if not KEY_ID.fullmatch(key_id):
        raise KeyConfigError(
            "an encryption key id has 1 to 64 letters, digits, '.', '_' or '-' "
            "(and starts with a letter or digit)"
        )
    try:
        key = base64.b64decode(value, validate=True)
    except binascii.Error:
        raise KeyConfigError(f"encryption key '{key_id}' is not base64") from None
    if len(key) != KEY_BYTES:
        raise KeyConfigError(
            f"encryption key '{key_id}' has {len(key)} bytes; an AES-256 key has {KEY_BYTES} "
            "(make one with: openssl rand -base64 32)"
        )
    return key


def _index_key(key: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INDEX_PURPOSE).derive(key)


def _aad(key_id: str, purpose: bytes) -> bytes:
    return key_id.encode() + b"\x00" + purpose
