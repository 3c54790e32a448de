#!/usr/bin/env python3
"""Check, without teamlens, that a warehouse's privacy ledger extends a signed checkpoint.

Needs only Python 3.11+, the `cryptography` package (Ed25519) and the `duckdb` package (to read
the warehouse file, read-only). Every step is written out here and in docs/audit.md:

1. The checkpoint file is a C2SP signed note: the body (origin line, tree size, base64 root
   hash), a blank line, and signature lines "— <key name> <base64(4-byte key hash || signature)>".
   The verifier key file holds "<key name>+<key hash, 8 hex digits>+<base64(0x01 || public key)>".
   The key hash must be SHA-256(key name || 0x0A || 0x01 || public key)[:4], and the Ed25519
   signature must verify over the body's bytes.
2. The ledger's rows, read ordered by seq, must be numbered 1, 2, 3, ... and hash-chained:
   entry_hash = SHA-256 hex of (prev_hash || canonical entry text), prev_hash of the first entry
   is 64 zeros. The canonical entry text is
   {"entry_type":"..","payload":<payload>,"recorded_at":"..","release_id":".." or null,"seq":N}.
3. The Merkle tree hash (RFC 6962 section 2.1) of the first `size` canonical entry texts must be
   the checkpoint's root: leaf = SHA-256(0x00 || text), node = SHA-256(0x01 || left || right),
   split at the largest power of two below the number of leaves.

Usage: python tools/verify_checkpoint.py WAREHOUSE.duckdb CHECKPOINT.txt [VERIFIER_KEY.pub]
(the verifier key defaults to the checkpoint file's name + ".pub"). Exit 0: the ledger extends
the checkpoint; exit 1: it does not, and the message says why.
"""

from __future__ import annotations

import base64
import hashlib
import sys
from pathlib import Path

import duckdb
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

EXPECTED_ORIGIN = "teamlens.local/privacy-ledger"


class NotExtended(Exception):
    """The ledger does not extend the checkpoint, or the checkpoint's signature does not verify."""


def open_signed_checkpoint(note: str, verifier: str) -> tuple[str, int, bytes]:
    """Step 1: (origin, size, root hash) of a checkpoint whose signature verifies."""
    name, hash_hex, encoded = verifier.strip().split("+", 2)
    raw = base64.b64decode(encoded, validate=True)
    if len(raw) != 33 or raw[0] != 1:
        raise NotExtended("the verifier key is not an Ed25519 key")
    public = raw[1:]
    key_hash = hashlib.sha256(name.encode() + b"\n" + b"\x01" + public).digest()[:4]
    if key_hash.hex() != hash_hex:
        raise NotExtended("the verifier key's hash does not match its name and key")
    body, _, signatures = note.partition("\n\n")
    body += "\n"
    for line in signatures.splitlines():
        dash, signer, blob64 = line.split(" ")
        blob = base64.b64decode(blob64, validate=True)
        if dash == "\u2014" and signer == name and blob[:4] == key_hash:
            try:
                Ed25519PublicKey.from_public_bytes(public).verify(blob[4:], body.encode())
            except InvalidSignature as exc:
                raise NotExtended("checkpoint: the signature does not verify (the checkpoint was changed)") from exc
            origin, size, root = body.split("\n")[:3]
            return origin, int(size), base64.b64decode(root, validate=True)
    raise NotExtended(f"checkpoint: no signature by the key {name}")


def canonical_entries(warehouse: Path) -> list[bytes]:
    """Step 2: the ledger's canonical entry texts, after checking seq numbers and the hash chain."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(
            "SELECT seq, entry_type, recorded_at, release_id, payload, prev_hash, entry_hash FROM ledger ORDER BY seq"
        ).fetchall()
    finally:
        con.close()
    prev = "0" * 64
    texts = []
    for position, (seq, entry_type, recorded_at, release_id, payload, prev_hash, stored) in enumerate(rows, 1):
        rid = "null" if release_id is None else f'"{release_id}"'
        text = (
            f'{{"entry_type":"{entry_type}","payload":{payload},"recorded_at":"{recorded_at}",'
            f'"release_id":{rid},"seq":{seq}}}'
        )
        if seq != position:
            raise NotExtended(f"ledger entry seq {seq}: expected seq {position}")
        if prev_hash != prev or hashlib.sha256(prev.encode() + text.encode()).hexdigest() != stored:
            raise NotExtended(f"ledger entry seq {seq}: the hash chain is broken (an entry was changed)")
        texts.append(text.encode("ascii"))
        prev = stored
    return texts


def merkle_root(leaves: list[bytes]) -> bytes:
    """Step 3: the RFC 6962 Merkle tree hash."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    split = 1
    while split * 2 < len(leaves):
        split *= 2
    return hashlib.sha256(b"\x01" + merkle_root(leaves[:split]) + merkle_root(leaves[split:])).digest()


def verify(warehouse: Path, note: str, verifier: str) -> str:
    """What was proven; raises NotExtended with the reason when the ledger does not extend the checkpoint."""
    origin, size, root = open_signed_checkpoint(note, verifier)
    if origin != EXPECTED_ORIGIN:
        raise NotExtended(f"checkpoint: origin {origin!r}, expected {EXPECTED_ORIGIN!r}")
    leaves = canonical_entries(warehouse)
    if size > len(leaves):
        raise NotExtended(f"ledger has {len(leaves)} entries but the checkpoint covers {size}: it was truncated")
    if merkle_root(leaves[:size]) != root:
        raise NotExtended(f"ledger: its first {size} entries do not hash to the checkpoint's root")
    return f"ok: the ledger's {len(leaves)} entries are chained and its first {size} match the signed checkpoint"


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    warehouse, checkpoint = Path(argv[0]), Path(argv[1])
    key_file = Path(argv[2]) if len(argv) == 3 else checkpoint.with_name(checkpoint.name + ".pub")
    try:
        print(verify(warehouse, checkpoint.read_text(encoding="utf-8"), key_file.read_text(encoding="utf-8")))
    except (NotExtended, ValueError) as exc:
        print(f"NOT OK: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
