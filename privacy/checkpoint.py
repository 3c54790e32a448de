"""Signed checkpoints of the ledger: a Merkle tree over its entries, in open, documented formats.

A checkpoint commits to the first `size` ledger entries: whoever keeps one (a works council,
for example) can later prove that the warehouse still starts with exactly those entries, so a
truncated, rewritten or reordered ledger is detected even when its hash chain was recomputed.

Formats (docs/audit.md walks through them step by step):
- Merkle tree hash as in RFC 6962 / RFC 9162 section 2.1: the empty tree hashes to SHA-256 of
  nothing; a leaf to SHA-256(0x00 || leaf); a node to SHA-256(0x01 || left || right), where a
  list of n > 1 leaves splits at k, the largest power of two smaller than n. A leaf is an entry's
  canonical text (privacy.ledger.canonical_entry) as ASCII bytes, in seq order.
- The checkpoint body (C2SP tlog-checkpoint): three lines, each ending in a newline: the origin,
  the tree size in decimal, the root hash in standard base64.
- The signed note (C2SP signed-note): the body, a blank line, then one line per signature:
  "— <key name> <base64(4-byte key hash || Ed25519 signature over the body)>". The key hash is
  the first 4 bytes of SHA-256(key name || 0x0A || 0x01 || 32-byte public key); the verifier key
  is written "<key name>+<key hash as 8 hex digits>+<base64(0x01 || public key)>".
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ORIGIN = "teamlens.local/privacy-ledger"
KEY_NAME = "teamlens-ledger"
ED25519_ALGORITHM = b"\x01"
SIGNATURE_DASH = "\u2014"


class CheckpointError(ValueError):
    """A checkpoint, note or verifier key that cannot be read, or whose signature does not verify."""


# --- the Merkle tree (RFC 6962 section 2.1) ------------------------------------------------------


def leaf_hash(leaf: bytes) -> bytes:
    """SHA-256(0x00 || leaf)."""
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """The Merkle tree hash of the leaves: split at the largest power of two below their number."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaf_hash(leaves[0])
    split = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(merkle_root(leaves[:split]), merkle_root(leaves[split:]))


# --- checkpoints and signed notes ---------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """What a checkpoint states: the log's origin, how many entries, and their Merkle root."""

    origin: str
    size: int
    root_hash: bytes

    def body(self) -> str:
        """The tlog-checkpoint body: origin, size and base64 root hash, one line each."""
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root_hash).decode('ascii')}\n"


def checkpoint_of(leaves: Sequence[bytes], origin: str = ORIGIN) -> Checkpoint:
    return Checkpoint(origin, len(leaves), merkle_root(leaves))


def parse_body(body: str) -> Checkpoint:
    """The checkpoint a body states (extension lines after the root hash are ignored)."""
    lines = body.split("\n")
    if len(lines) < 4 or lines[-1] != "" or not lines[0]:
        raise CheckpointError("a checkpoint body is an origin, a tree size and a root hash, one line each")
    if not lines[1].isdigit() or (lines[1] != "0" and lines[1].startswith("0")):
        raise CheckpointError(f"checkpoint tree size {lines[1]!r} is not a decimal number")
    try:
        root = base64.b64decode(lines[2], validate=True)
    except binascii.Error as exc:
        raise CheckpointError(f"checkpoint root hash {lines[2]!r} is not base64") from exc
    if len(root) != 32:
        raise CheckpointError(f"checkpoint root hash has {len(root)} bytes, not 32")
    return Checkpoint(lines[0], int(lines[1]), root)


def key_hash(name: str, public_key: bytes) -> bytes:
    """The 4-byte key hash of a signed-note Ed25519 key: SHA-256(name || 0x0A || 0x01 || key)[:4]."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + ED25519_ALGORITHM + public_key).digest()[:4]


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def verifier_key(private_key: Ed25519PrivateKey, name: str = KEY_NAME) -> str:
    """The signed-note verifier key string of the private key's public half."""
    public = _raw_public(private_key.public_key())
    encoded = base64.b64encode(ED25519_ALGORITHM + public).decode("ascii")
    return f"{name}+{key_hash(name, public).hex()}+{encoded}"


def parse_verifier_key(text: str) -> tuple[str, bytes, Ed25519PublicKey]:
    """(name, key hash, public key) of a verifier key string; the key hash must match the key."""
    parts = text.strip().split("+", 2)  # base64 may hold "+" too
    if len(parts) != 3:
        raise CheckpointError("a verifier key is <name>+<key hash>+<base64 key>")
    name, hash_hex, encoded = parts
    try:
        raw = base64.b64decode(encoded, validate=True)
        wanted = bytes.fromhex(hash_hex)
    except (binascii.Error, ValueError) as exc:
        raise CheckpointError(f"verifier key {text.strip()!r} is not well formed") from exc
    if len(raw) != 33 or raw[:1] != ED25519_ALGORITHM:
        raise CheckpointError("the verifier key is not an Ed25519 key (0x01 followed by 32 bytes)")
    if key_hash(name, raw[1:]) != wanted:
        raise CheckpointError("the verifier key's hash does not match its name and key")
    return name, wanted, Ed25519PublicKey.from_public_bytes(raw[1:])


def sign_note(checkpoint: Checkpoint, private_key: Ed25519PrivateKey, name: str = KEY_NAME) -> str:
    """The signed note of the checkpoint: body, blank line, one signature line."""
    body = checkpoint.body()
    public = _raw_public(private_key.public_key())
    signature = base64.b64encode(key_hash(name, public) + private_key.sign(body.encode("utf-8"))).decode("ascii")
    return f"{body}\n{SIGNATURE_DASH} {name} {signature}\n"


def open_note(note: str, verifier: str) -> Checkpoint:
    """The checkpoint of a signed note whose signature by the verifier key verifies; else CheckpointError."""
    name, wanted_hash, public_key = parse_verifier_key(verifier)
    body, separator, signatures = note.partition("\n\n")
    if not separator:
        raise CheckpointError("the note has no blank line between its text and its signatures")
    body += "\n"
    for line in signatures.rstrip("\n").split("\n"):
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != SIGNATURE_DASH:
            raise CheckpointError(f"not a signature line: {line!r}")
        if parts[1] != name:
            continue
        try:
            blob = base64.b64decode(parts[2], validate=True)
        except binascii.Error as exc:
            raise CheckpointError(f"signature of {name} is not base64") from exc
        if blob[:4] != wanted_hash:
            continue
        try:
            public_key.verify(blob[4:], body.encode("utf-8"))
        except InvalidSignature as exc:
            raise CheckpointError(f"the signature of {name} does not verify: the checkpoint was changed") from exc
        return parse_body(body)
    raise CheckpointError(f"the note carries no signature by the key {name}+{wanted_hash.hex()}")


def load_private_key(text: str) -> Ed25519PrivateKey:
    """An Ed25519 private key from 64 hex digits (its 32-byte seed) or PEM (PKCS#8)."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise CheckpointError("the checkpoint key in PEM is not an Ed25519 private key")
        return key
    try:
        seed = bytes.fromhex(text)
    except ValueError as exc:
        raise CheckpointError("the checkpoint key is neither 64 hex digits nor PEM") from exc
    if len(seed) != 32:
        raise CheckpointError(f"the checkpoint key has {len(seed)} bytes; an Ed25519 seed has 32")
    return Ed25519PrivateKey.from_private_bytes(seed)
