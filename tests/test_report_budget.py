"""The report's budget lines: a warehouse holding rho and epsilon spend never adds the two.

Pure DP epsilon 1 on 2026-03-02 and 2026-03-03, then zCDP rho 0.25 on 2026-03-04 (epsilon 1
counts under zCDP as rho 1/2, so the month is at 2 x 1/2 + 0.25 = 1.25 rho of a cap of 2).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from foundation.policy import Policy, load_policy
from foundation.settings import Settings
from privacy.accountant import publish_release
from privacy.budgets import budget_summary
from teamlens.report import print_report
from tests.helpers import SITE_DAY, FakeDraw, approve, policy_document, pure_doc
from warehouse.records import ReleaseKey

APPROVED_AT = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)
SITE_DAY_RHO = {k: v for k, v in SITE_DAY.items() if k != "epsilon"} | {"rho": "0.25"}


def policy_file(path: Path, doc: dict[str, Any]) -> Policy:
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return load_policy(path)


def publish_day(wh: Path, policy: Policy, day: dt.date) -> None:
    approve(wh, policy, "works council", "Betriebsvereinbarung 2026/04", at=APPROVED_AT)
    key = ReleaseKey("site_day", day, day + dt.timedelta(days=1), policy.sha256)
    at = dt.datetime(2026, 3, 10, tzinfo=dt.UTC)
    out = publish_release(wh, key, policy.release("site_day"), policy, "tester", FakeDraw(), now=lambda: at)
    assert out.status == "released", out.message


@pytest.fixture
def mixed(settings: Settings, tmp_path: Path) -> tuple[Settings, Settings, Policy, Policy]:
    pure = policy_file(tmp_path / "pure.yaml", pure_doc(cap="10", epsilon="1"))
    zcdp = policy_file(tmp_path / "zcdp.yaml", policy_document([SITE_DAY_RHO], cap="2"))
    wh = settings.lake.warehouse_path
    wh.parent.mkdir(parents=True)
    publish_day(wh, pure, dt.date(2026, 3, 2))
    publish_day(wh, pure, dt.date(2026, 3, 3))
    publish_day(wh, zcdp, dt.date(2026, 3, 4))
    as_zcdp = dataclasses.replace(settings, policy_path=tmp_path / "zcdp.yaml")
    as_pure = dataclasses.replace(settings, policy_path=tmp_path / "pure.yaml")
    return as_zcdp, as_pure, zcdp, pure


def budget_lines(text: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Policy version"))
    end = next(i for i, line in enumerate(lines) if line.startswith("Privacy ledger:"))
    return [line for line in lines[start:end] if line]


def test_the_summary_keeps_each_unit_on_its_own(mixed: Any) -> None:
    as_zcdp, _, zcdp, pure = mixed
    [march] = budget_summary(as_zcdp.lake.warehouse_path, zcdp)
    assert march["by_unit"] == {"rho": {"spent": "0.25", "releases": 1}, "epsilon": {"spent": "2", "releases": 2}}
    assert march["spent_rho"] == "1.25"  # 0.25 + 2 x 1^2 / 2, the accountant's count under zCDP
    [pure_march] = budget_summary(as_zcdp.lake.warehouse_path, pure)
    assert pure_march["by_unit"] == march["by_unit"] and pure_march["spent_epsilon"] is None


def test_the_report_prints_each_unit_on_its_own(mixed: Any, capsys: pytest.CaptureFixture[str]) -> None:
    as_zcdp, as_pure, zcdp, pure = mixed
    print_report(as_zcdp)
    lines = budget_lines(capsys.readouterr().out)
    assert lines[:4] == [
        f"Policy version 1 ({zcdp.sha256[:12]}), approved by works council 'Betriebsvereinbarung 2026/04' "
        "on 2026-03-01",
        "Privacy budget per agent (zCDP rho per calendar month; cap 2 under policy version 1):",
        "  2026-03: spent 1.25 of 2 (3 releases), remaining 0.75; as (epsilon, delta): (10.80, 1e-09)",
        "    recorded per unit (never added across units): rho 0.25 (1 release); epsilon 2 (2 releases); "
        "epsilon counted as rho epsilon^2 / 2",
    ]
    print_report(as_pure)
    lines = budget_lines(capsys.readouterr().out)
    assert lines[:4] == [
        f"Policy version 1 ({pure.sha256[:12]}), approved by works council 'Betriebsvereinbarung 2026/04' "
        "on 2026-03-01",
        "Privacy budget per agent (pure DP epsilon per calendar month; cap 10 under policy version 1):",
        "  2026-03: spent epsilon unbounded (zCDP spend) of 10 (3 releases), over the cap; delta 0",
        "    recorded per unit (never added across units): rho 0.25 (1 release); epsilon 2 (2 releases); "
        "rho spend has no pure DP (epsilon) bound: the month is over the cap",
    ]
