"""Signed checkpoints: RFC 6962 Merkle hashes by hand, signed notes, the signing key's settings,
`teamlens checkpoint` / `verify --checkpoint`, and the standalone verifier agreeing with them."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from cryptography.hazmat.primitives import serialization

from foundation.settings import REPO_ROOT, MissingSecretError, load_settings
from privacy import checkpoint as cp
from teamlens import cli
from tests.helpers import TEST_CHECKPOINT_KEY, TEST_KEY, two_week_warehouse


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def test_merkle_tree_hashes_computed_by_hand() -> None:
    assert cp.merkle_root([]).hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert cp.merkle_root([b"a"]) == sha(b"\x00a")
    a, b, c, d, e = (sha(b"\x00" + x) for x in (b"a", b"b", b"c", b"d", b"e"))
    assert cp.merkle_root([b"a", b"b"]) == sha(b"\x01" + a + b)
    assert cp.merkle_root([b"a", b"b", b"c"]) == sha(b"\x01" + sha(b"\x01" + a + b) + c)
    left = sha(b"\x01" + sha(b"\x01" + a + b) + sha(b"\x01" + c + d))
    assert cp.merkle_root([b"a", b"b", b"c", b"d", b"e"]) == sha(b"\x01" + left + e)  # split at 4, not 3


def test_signed_note_format_and_round_trip() -> None:
    key = cp.load_private_key(TEST_CHECKPOINT_KEY)
    checkpoint = cp.checkpoint_of([b"a", b"b", b"c"])
    note = cp.sign_note(checkpoint, key)
    body, signature = note.split("\n\n")
    assert body + "\n" == f"{cp.ORIGIN}\n3\n{base64.b64encode(checkpoint.root_hash).decode()}\n"
    dash, name, blob = signature.rstrip("\n").split(" ")
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    key_hash = sha(name.encode() + b"\n\x01" + public)[:4]
    assert dash == "\u2014" and name == cp.KEY_NAME and base64.b64decode(blob)[:4] == key_hash
    assert len(base64.b64decode(blob)) == 4 + 64
    encoded = base64.b64encode(b"\x01" + public).decode()
    assert cp.verifier_key(key) == f"{name}+{key_hash.hex()}+{encoded}"
    assert cp.open_note(note, cp.verifier_key(key)) == checkpoint
    with pytest.raises(cp.CheckpointError, match="does not verify"):
        cp.open_note(note.replace("\n3\n", "\n2\n"), cp.verifier_key(key))


def test_keys_load_from_hex_and_pem() -> None:
    key = cp.load_private_key(TEST_CHECKPOINT_KEY)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    assert cp.verifier_key(cp.load_private_key(pem)) == cp.verifier_key(key)
    with pytest.raises(cp.CheckpointError, match="32"):
        cp.load_private_key("abcd")


def test_signing_key_settings(tmp_path: Path) -> None:
    base = {"TEAMLENS_PSEUDONYM_KEY": TEST_KEY, "XDG_CONFIG_HOME": str(tmp_path / "config")}
    with pytest.raises(MissingSecretError, match=r"python -c .*TEAMLENS_CHECKPOINT_KEY"):
        load_settings(base).checkpoint_key_text()
    assert load_settings(base | {"TEAMLENS_CHECKPOINT_KEY": TEST_CHECKPOINT_KEY}).checkpoint_key_text() == (
        TEST_CHECKPOINT_KEY
    )
    key_file = tmp_path / "checkpoint.key"
    key_file.write_text(TEST_CHECKPOINT_KEY + "\n")
    assert load_settings(base | {"TEAMLENS_CHECKPOINT_KEY_FILE": str(key_file)}).checkpoint_key_text() == (
        TEST_CHECKPOINT_KEY
    )
    demo = load_settings(base | {"TEAMLENS_DEMO": "1"})
    generated = demo.checkpoint_key_text()
    assert demo.demo_checkpoint_key_file == tmp_path / "config" / "teamlens" / "demo-checkpoint.key"
    assert demo.checkpoint_key_text() == generated and cp.load_private_key(generated)
    assert not str(demo.demo_checkpoint_key_file).startswith(str(REPO_ROOT))


@pytest.fixture
def center(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data root whose warehouse holds two releases and a correction; the CLI's settings point at it."""
    monkeypatch.setenv("TEAMLENS_DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.setenv("TEAMLENS_CHECKPOINT_KEY", TEST_CHECKPOINT_KEY)
    monkeypatch.delenv("TEAMLENS_DEMO", raising=False)
    warehouse = load_settings().lake.warehouse_path
    two_week_warehouse(warehouse)
    return warehouse


def standalone(warehouse: Path, note: Path) -> subprocess.CompletedProcess[str]:
    tool = REPO_ROOT / "tools" / "verify_checkpoint.py"
    return subprocess.run(
        [sys.executable, "-I", str(tool), str(warehouse), str(note)], capture_output=True, text=True, timeout=120
    )


def test_cli_and_standalone_verifier_agree(center: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    note = tmp_path / "council" / "checkpoint.txt"
    assert cli.main(["checkpoint", "--out", str(note)]) == 0
    assert (tmp_path / "council" / "checkpoint.txt.pub").read_text().startswith(cp.KEY_NAME + "+")
    assert note.read_text().split("\n")[1] == "4"
    assert cli.main(["verify", "--checkpoint", str(note)]) == 0
    assert "extends the signed checkpoint" in capsys.readouterr().out
    ok = standalone(center, note)
    assert ok.returncode == 0 and ok.stdout.startswith("ok:"), ok.stdout + ok.stderr

    con = duckdb.connect(str(center))
    con.execute("DELETE FROM ledger WHERE seq = 4")
    con.close()
    assert cli.main(["verify", "--checkpoint", str(note)]) == 1
    assert "ledger has 3 entries but the signed checkpoint covers 4" in capsys.readouterr().out
    bad = standalone(center, note)
    assert bad.returncode == 1 and "ledger has 3 entries but the checkpoint covers 4" in bad.stdout


def test_standalone_verifier_detects_a_changed_entry(center: Path, tmp_path: Path) -> None:
    note = tmp_path / "checkpoint.txt"
    assert cli.main(["checkpoint", "--out", str(note)]) == 0
    con = duckdb.connect(str(center))
    con.execute("UPDATE ledger SET payload = replace(payload, 'tester', 'other') WHERE seq = 2")
    con.close()
    assert cli.main(["verify", "--checkpoint", str(note)]) == 1
    bad = standalone(center, note)
    assert bad.returncode == 1 and "ledger entry seq 2" in bad.stdout


def test_publish_writes_a_checkpoint_under_the_lake(center: Path) -> None:
    from privacy.verify import write_signed_checkpoint

    lake = load_settings().lake
    write_signed_checkpoint(center, TEST_CHECKPOINT_KEY, lake.latest_checkpoint, lake.checkpoint_of_size)
    assert lake.checkpoint_of_size(4).read_text() == lake.latest_checkpoint.read_text()
    assert cli.main(["verify", "--checkpoint", str(lake.latest_checkpoint)]) == 0
