"""The ledger's hash chain: recomputable from the documented recipe, and tampering is detected."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import duckdb
import pytest

from foundation.budget import Budget, BudgetUnitMismatch
from foundation.exact import canonical_json, fraction_decimal, fraction_text
from foundation.policy import Policy
from privacy.accountant import publish_release
from privacy.approval import approve_policy
from privacy.ledger import (
    AUDIT_SQL,
    GENESIS_HASH,
    append_entry,
    canonical_entry,
)
from privacy.mechanisms import rho_to_epsilon, rho_to_epsilon_opendp
from privacy.verify import verify_ledger
from tests.helpers import approve, make_test_policy
from warehouse.records import GroupDecision, NoisyRelease, PublishedValue, ReleaseKey
from warehouse.store import connect

T0 = dt.datetime(2026, 3, 1, 4, 0, tzinfo=dt.UTC)
RHO, RHO_FORGED = '"rho":"0.1"', '"rho":"0.01"'


def make_policy(cap: str = "0.3") -> Policy:
    return make_test_policy(
        [
            {
                "name": "site_day",
                "purpose": "daily figures, für Planung",  # non-ASCII: escaped in the canonical JSON
                "group_by": "site",
                "window": "day",
                "rho": "0.1",
                "sums": {"contacts_handled": 80},
            }
        ],
        cap=cap,
        version=3,
        retention_days={"metrics": 90},
    )


def clock(moment: dt.datetime) -> Callable[[], dt.datetime]:
    return lambda: moment


def draw() -> NoisyRelease:
    return NoisyRelease(
        values=(PublishedValue("berlin", "contacts_handled", 1234.5, 1200.25, 1268.75, 17.5, "published"),),
        groups=(GroupDecision("berlin", 40, "released"), GroupDecision("tiny", 3, "suppressed_small_group")),
        mechanism="gaussian (zCDP), test double",
        parameters={"bound": 80, "scale": 17.5},
    )


@pytest.fixture
def chain(tmp_path: Path) -> tuple[Path, Policy]:
    """A ledger of 6 entries: policy approval, three releases, a refusal, and the next month's release."""
    path = tmp_path / "wh.duckdb"
    policy = make_policy()
    approve(path, policy, at=T0 - dt.timedelta(hours=1))
    days = [dt.date(2026, 3, d) for d in (1, 2, 3, 4)] + [dt.date(2026, 4, 1)]
    for i, day in enumerate(days):
        key = ReleaseKey("site_day", day, day + dt.timedelta(days=1), policy.sha256)
        publish_release(path, key, policy.release("site_day"), policy, "ops", draw, now=clock(T0.replace(hour=i)))
    return path, policy


def ledger_rows(path: Path) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute("SELECT * FROM ledger ORDER BY seq").fetchall()
    finally:
        con.close()


def tamper(path: Path, *statements: str) -> None:
    con = duckdb.connect(str(path))
    try:
        for sql in statements:
            con.execute(sql)
    finally:
        con.close()


def test_good_chain_verifies(chain: tuple[Path, Policy]) -> None:
    path, _ = chain
    types = [r[1] for r in ledger_rows(path)]
    assert types == ["policy_approved", "release", "release", "release", "refusal", "release"]
    result = verify_ledger(path)
    assert result.ok and result.entries == 6 and result.first_bad_seq is None
    assert result.head_hash == ledger_rows(path)[-1][6]
    assert "6 entries" in result.message


def test_chain_recomputes_from_the_documented_recipe_without_our_code(chain: tuple[Path, Policy]) -> None:
    path, _ = chain
    prev = "0" * 64
    for seq, entry_type, recorded_at, release_id, payload, prev_hash, stored in ledger_rows(path):
        rid = "null" if release_id is None else f'"{release_id}"'
        text = (
            f'{{"entry_type":"{entry_type}","payload":{payload},"recorded_at":"{recorded_at}",'
            f'"release_id":{rid},"seq":{seq}}}'
        )
        same = json.dumps(
            {
                "seq": seq,
                "entry_type": entry_type,
                "recorded_at": recorded_at,
                "release_id": release_id,
                "payload": json.loads(payload),
            },
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=True,
        )
        assert text == same
        assert prev_hash == prev
        assert hashlib.sha256(prev.encode() + text.encode()).hexdigest() == stored
        prev = stored
    assert ledger_rows(path)[0][2].endswith("Z") and "\\u00fc" in ledger_rows(path)[0][4]


@pytest.mark.parametrize(
    ("sql", "bad_seq", "why"),
    [
        (f"UPDATE ledger SET payload = replace(payload, '{RHO}', '{RHO_FORGED}') WHERE seq = 3", 3, "changed"),
        ("UPDATE ledger SET entry_type = 'refusal' WHERE seq = 2", 2, "changed"),
        ("UPDATE ledger SET release_id = NULL WHERE seq = 4", 4, "changed"),
        ("UPDATE ledger SET recorded_at = '2026-03-01T09:00:00.000000Z' WHERE seq = 5", 5, "changed"),
        ("DELETE FROM ledger WHERE seq = 3", 4, "missing"),
    ],
)
def test_tampering_is_detected(chain: tuple[Path, Policy], sql: str, bad_seq: int, why: str) -> None:
    path, _ = chain
    tamper(path, sql)
    result = verify_ledger(path)
    assert not result.ok and result.first_bad_seq == bad_seq
    assert f"seq {bad_seq}" in result.message and why in result.message


def test_swapped_entries_are_detected(chain: tuple[Path, Policy]) -> None:
    path, _ = chain
    tamper(
        path,
        "UPDATE ledger SET seq = 100 WHERE seq = 2",
        "UPDATE ledger SET seq = 2 WHERE seq = 3",
        "UPDATE ledger SET seq = 3 WHERE seq = 100",
    )
    result = verify_ledger(path)
    assert not result.ok and result.first_bad_seq == 2


def test_a_rehashed_entry_breaks_the_next_link(chain: tuple[Path, Policy]) -> None:
    """An attacker who fixes the changed entry's own hash is caught by the next entry's prev_hash."""
    path, _ = chain
    seq, entry_type, recorded_at, release_id, payload, prev, _ = ledger_rows(path)[2]
    forged = payload.replace(RHO, RHO_FORGED)
    text = canonical_entry(seq, entry_type, recorded_at, release_id, forged)
    new_hash = hashlib.sha256(prev.encode() + text.encode()).hexdigest()
    tamper(path, f"UPDATE ledger SET payload = '{forged}', entry_hash = '{new_hash}' WHERE seq = {seq}")
    result = verify_ledger(path)
    assert not result.ok and result.first_bad_seq == seq + 1 and "prev_hash" in result.message


def test_freeing_budget_by_deleting_spend_rows_is_detected(chain: tuple[Path, Policy]) -> None:
    path, _ = chain
    release_id = ledger_rows(path)[1][3]
    tamper(path, f"DELETE FROM budget_spend WHERE release_id = '{release_id}'")
    result = verify_ledger(path)
    assert not result.ok and result.first_bad_seq == 2 and "budget_spend" in result.message


def test_a_changed_published_value_is_detected(chain: tuple[Path, Policy]) -> None:
    path, _ = chain
    tamper(path, "UPDATE published_aggregates SET value = value + 1 WHERE window_start = DATE '2026-04-01'")
    result = verify_ledger(path)
    assert not result.ok and result.first_bad_seq == 6 and "published_aggregates" in result.message


def test_a_release_without_ledger_entry_is_detected(chain: tuple[Path, Policy]) -> None:
    path, _ = chain
    tamper(path, "DELETE FROM ledger WHERE seq = 6")  # the last entry: the chain alone cannot tell
    result = verify_ledger(path)
    assert not result.ok and "no release entry" in result.message


def test_missing_file_and_empty_ledger(tmp_path: Path) -> None:
    assert not verify_ledger(tmp_path / "absent.duckdb").ok
    connect(tmp_path / "empty.duckdb").close()
    empty = verify_ledger(tmp_path / "empty.duckdb")
    assert empty.ok and empty.entries == 0 and empty.head_hash == GENESIS_HASH


def test_policy_recorded_once_per_hash(tmp_path: Path) -> None:
    path = tmp_path / "wh.duckdb"
    assert approve_policy(path, make_policy("0.3"), "works council", "minutes 1", "ops", clock(T0))[1] is True
    assert approve_policy(path, make_policy("0.3"), "works council", "minutes 1", "ops", clock(T0))[1] is False
    assert approve_policy(path, make_policy("0.5"), "works council", "minutes 2", "ops", clock(T0))[1] is True
    con = connect(path)
    try:
        with pytest.raises(ValueError, match="unknown ledger entry type"):
            append_entry(con, "oops", {}, None, T0)
        with pytest.raises(ValueError, match="timezone-aware"):
            append_entry(con, "refusal", {}, None, dt.datetime(2026, 1, 1))
        rows = con.execute("SELECT seq, json_extract_string(payload, '$.budget_cap_rho') FROM ledger").fetchall()
    finally:
        con.close()
    assert rows == [(1, "0.3"), (2, "0.5")]
    assert verify_ledger(path).ok


def test_audit_sql_runs_with_plain_duckdb(chain: tuple[Path, Policy]) -> None:
    path, _ = chain
    con = duckdb.connect(str(path), read_only=True)
    try:
        results = {name: con.execute(sql).fetchall() for name, sql in AUDIT_SQL.items()}
    finally:
        con.close()
    assert results["spend_per_period"] == [
        ("2026-03", "rho", 3, Fraction(3, 10), Fraction(3, 10), Fraction(0), True),
        ("2026-04", "rho", 1, Fraction(1, 10), Fraction(3, 10), Fraction(2, 10), True),
    ]
    assert len(results["releases"]) == 4
    assert len(results["refusals"]) == 1 and results["refusals"][0][1].startswith("2026-03-01T03")
    assert "exceed the privacy budget" in results["refusals"][0][6]
    tiny = ("site_day", dt.date(2026, 3, 1), dt.date(2026, 3, 2), "site", "tiny", 3, "suppressed_small_group", None)
    assert tiny in results["group_sizes"]
    assert results["corrections"] == []
    assert results["smallest_released_group"] == [("site_day", 40, 10)]
    assert [r[2:5] for r in results["policies"]] == [(3, make_policy().sha256, "0.3")]
    assert all(r[2] and r[3] and r[4] for r in results["chain_check"]) and len(results["chain_check"]) == 6
    assert results["releases_without_ledger_entry"] == []


def test_audit_chain_check_flags_tampering(chain: tuple[Path, Policy]) -> None:
    path, _ = chain
    tamper(path, "UPDATE ledger SET payload = replace(payload, 'ops', 'nobody') WHERE seq = 2")
    con = duckdb.connect(str(path), read_only=True)
    try:
        flags = con.execute(AUDIT_SQL["chain_check"]).fetchall()
    finally:
        con.close()
    assert [r[0] for r in flags if not r[4]] == [2]


def test_exact_encodings() -> None:
    assert [fraction_text(Fraction(x)) for x in ("0.1", "1", "1.0", "0.125", "-2.5", "1e-9", "100")] == [
        "0.1",
        "1",
        "1",
        "0.125",
        "-2.5",
        "0.000000001",
        "100",
    ]
    assert fraction_text(Fraction(1, 3)) == "1/3" and Fraction(fraction_text(Fraction(7, 30))) == Fraction(7, 30)
    assert str(fraction_decimal(Fraction(1, 3))) == "0.333333333333333334"  # rounded up, conservative
    assert fraction_decimal(Fraction(1, 10)) == Fraction(1, 10)
    assert (
        canonical_json({"b": Fraction(1, 10), "a": [dt.date(2026, 3, 1), None]})
        == '{"a":["2026-03-01",null],"b":"0.1"}'
    )
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})
    np = pytest.importorskip("numpy")
    assert canonical_json({"f": np.float64(1.5), "i": np.int64(3)}) == '{"f":1.5,"i":3}'


def test_budgets_carry_their_unit() -> None:
    rho, epsilon = Budget("rho", Fraction(1, 10)), Budget("epsilon", Fraction(1, 2))
    assert rho + rho == Budget("rho", Fraction(1, 5)) and str(rho * 3) == "rho 0.3" and (epsilon / 3).text == "1/6"
    assert rho < Budget("rho", Fraction(1, 5)) and rho != Budget("epsilon", Fraction(1, 10))
    with pytest.raises(BudgetUnitMismatch):
        rho + epsilon
    with pytest.raises(BudgetUnitMismatch):
        rho <= epsilon  # noqa: B015
    with pytest.raises(ValueError, match="unknown budget unit"):
        Budget.parse("delta", "0.1")


def test_rho_to_epsilon_conversions() -> None:
    rho, delta = Fraction(1, 2), Fraction(1, 10**9)
    bun_steinke = 0.5 + 2 * (0.5 * 20.72326583694641) ** 0.5  # ln(1e9)
    assert rho_to_epsilon(rho, delta) == pytest.approx(bun_steinke)
    tight = rho_to_epsilon_opendp(rho, delta)
    assert float(rho) < tight < rho_to_epsilon(rho, delta)
    assert rho_to_epsilon_opendp(Fraction(0), delta) == 0.0
    assert rho_to_epsilon_opendp(Fraction(1, 10), delta) == pytest.approx(2.7154818867305024, rel=1e-9)
