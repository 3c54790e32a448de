"""Budget state per accounting period and per rolling year, for the accountant's checks and the report.

The privacy unit is one agent's records within one accounting period (a calendar month), so loss
adds up over the months: an agent's loss over a year is the sum of the spend of its 12 months
(zCDP rhos add; under pure DP epsilons add; docs/privacy.md, Budgets). Spend is read from
`budget_spend` and summed exactly in the policy's unit (foundation.budget.Budget): epsilon-DP spend
under a zCDP policy counts as its rho (epsilon^2 / 2, `zcdp_equivalent`), while zCDP spend under a
pure DP policy has no epsilon bound (a period or year holding it is over any cap).

A release is checked against the monthly cap in every period it touches and, when the policy sets
`budget_cap_year_rho` / `budget_cap_year_epsilon`, against that cap in every rolling year that
holds one of those periods: the 12-month windows ending with each touched period and with each of
the 11 months after it (a window backfilled late must not push a later year over the cap).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from foundation.budget import Budget, BudgetUnit, sum_budgets
from foundation.exact import fraction_text
from foundation.policy import Policy, ReleaseSpec
from foundation.windows import MONTHS_PER_YEAR, rolling_year, shift_period
from privacy.mechanisms import EPSILON_CONVERSION_OPENDP, rho_to_epsilon, rho_to_epsilon_opendp, zcdp_equivalent
from warehouse import store


@dataclass(frozen=True)
class YearBudget:
    """One rolling year (the 12 periods ending with `last`): its spend and what a release would add to it."""

    last: str
    spent: Budget
    charged: Budget  # the release's budget times the periods it touches inside this year
    unbounded: bool = False  # holds zCDP spend under a pure DP policy

    @property
    def first(self) -> str:
        return shift_period(self.last, -(MONTHS_PER_YEAR - 1))

    @property
    def label(self) -> str:
        return f"{self.first} to {self.last}"

    @property
    def would_be(self) -> Budget:
        return self.spent + self.charged


@dataclass(frozen=True)
class PeriodBudgets:
    """The budget state of the periods a release touches, in the policy's unit (rho or epsilon).

    A period in `unbounded` holds spend that has no bound in this unit (zCDP spend under a pure
    DP policy): it is over the cap whatever its numbers say. `years` are the rolling years the
    release would add to, checked against `year_cap` when the policy sets one.
    """

    spent: dict[str, Budget]
    requested: Budget
    cap: Budget
    unbounded: tuple[str, ...] = ()
    year_cap: Budget | None = None
    years: tuple[YearBudget, ...] = ()

    @property
    def unit(self) -> BudgetUnit:
        return self.cap.unit

    @property
    def over(self) -> list[str]:
        """The periods whose monthly cap the release would exceed."""
        return [p for p, s in self.spent.items() if s + self.requested > self.cap or p in self.unbounded]

    @property
    def over_years(self) -> list[YearBudget]:
        """The rolling years whose yearly cap the release would exceed (none without a yearly cap)."""
        cap = self.year_cap
        return [] if cap is None else [y for y in self.years if y.unbounded or y.would_be > cap]

    @property
    def refused(self) -> bool:
        """Whether the release would exceed the monthly cap of a period or the yearly cap of a rolling year."""
        return bool(self.over or self.over_years)

    def reasons(self) -> list[str]:
        """Why the release is over budget, one line per period and rolling year."""
        out = [
            f"period {p}: it holds zCDP (rho) spend, which has no pure DP (epsilon) bound"
            if p in self.unbounded
            else f"period {p}: spent {self.spent[p]} + requested {self.requested.text} "
            f"= {(self.spent[p] + self.requested).text} > cap {self.cap.text}"
            for p in self.over
        ]
        out += [
            f"year {y.label}: it holds zCDP (rho) spend, which has no pure DP (epsilon) bound"
            if y.unbounded
            else f"year {y.label}: spent {y.spent} + requested {y.charged.text} = {y.would_be.text} "
            f"> yearly cap {self.year_cap.text if self.year_cap else '-'}"
            for y in self.over_years
        ]
        return out

    def state(self) -> dict[str, Any]:
        """The state as refusal entries record it, keys named by the unit (requested_rho, spent_epsilon, ...).

        The rolling years appear only under a policy with a yearly cap, so that refusals recorded
        without one keep their form.
        """
        u = self.unit
        out: dict[str, Any] = {
            f"requested_{u}": self.requested.text,
            f"cap_{u}": self.cap.text,
            "periods": {
                p: {f"spent_{u}": s.text, f"would_be_{u}": (s + self.requested).text} for p, s in self.spent.items()
            },
        }
        if self.unbounded:
            out["periods_with_zcdp_spend"] = list(self.unbounded)
        if self.year_cap is not None:
            out[f"cap_year_{u}"] = self.year_cap.text
            out["years"] = {
                y.label: {f"spent_{u}": None if y.unbounded else y.spent.text, f"would_be_{u}": y.would_be.text}
                for y in self.years
            }
        return out


def period_budgets(
    con: duckdb.DuckDBPyConnection, periods: list[str], spec: ReleaseSpec, policy: Policy
) -> PeriodBudgets:
    """The spend of the periods (and, under a yearly cap, of the rolling years holding them) in the policy's unit."""
    requested, cap, year_cap = spec.budget, policy.budget_cap, policy.budget_cap_year
    if requested.unit != cap.unit:
        raise ValueError(f"release {spec.name!r} is budgeted in {requested.unit}, the policy in {cap.unit}")
    if not periods:
        return PeriodBudgets({}, requested, cap, (), year_cap)
    ends = [shift_period(p, k) for p in periods for k in range(MONTHS_PER_YEAR)] if year_cap is not None else []
    months = sorted({m for end in ends for m in rolling_year(end)} | set(periods))
    spent, unbounded = _spend_by_period(store.spend_rows(con, months), cap.unit)
    zero = Budget.zero(cap.unit)
    years = tuple(
        YearBudget(
            last=end,
            spent=sum_budgets([spent.get(m, zero) for m in rolling_year(end)], cap.unit),
            charged=requested * sum(p in rolling_year(end) for p in periods),
            unbounded=any(m in unbounded for m in rolling_year(end)),
        )
        for end in sorted(set(ends))
    )
    return PeriodBudgets(
        {p: spent.get(p, zero) for p in periods},
        requested,
        cap,
        tuple(p for p in periods if p in unbounded),
        year_cap,
        years,
    )


def spend_in_unit(rows: list[tuple[str, str, Budget]], unit: BudgetUnit) -> tuple[dict[str, Budget], set[str]]:
    """Spend rows (warehouse.store.spend_rows) summed exactly per period in `unit`, as the accountant
    counts them; and the periods holding spend with no bound in that unit (_spend_by_period)."""
    return _spend_by_period(rows, unit)


def _spend_by_period(rows: list[tuple[str, str, Budget]], unit: BudgetUnit) -> tuple[dict[str, Budget], set[str]]:
    """The exact spend per period in `unit`, and the periods holding spend with no bound in it.

    Epsilon spend counts under rho as its zCDP equivalent (epsilon^2 / 2); rho spend has no
    epsilon bound.
    """
    spent: dict[str, Budget] = {}
    unbounded: set[str] = set()
    for period, _, amount in rows:
        if amount.unit != unit and amount.unit == "rho":
            unbounded.add(period)
            continue
        converted = amount if amount.unit == unit else zcdp_equivalent(amount)
        spent[period] = spent.get(period, Budget.zero(unit)) + converted
    return spent, unbounded


def budget_summary(path: Path, policy: Policy) -> list[dict[str, Any]]:
    """Per period with spend: spent rho (exact text and float), cap, remaining, epsilon at report_delta.

    epsilon uses OpenDP's conversion (named in `epsilon_conversion`); `epsilon_bun_steinke` is
    the simpler, looser formula (docs/privacy.md, Converting rho to epsilon), for comparison.
    Under a zCDP policy, epsilon-DP spend counts as its rho (epsilon^2 / 2). `by_unit` holds the
    spend as recorded, summed per unit and never across units (spend_by_unit).
    """
    rows = _all_spend(path)
    if policy.privacy_model == "pure":
        return _pure_summary(rows, policy)
    recorded = spend_by_unit(rows)
    by_period: dict[str, list[Budget]] = {}
    for period, _, spent in rows:
        by_period.setdefault(period, []).append(zcdp_equivalent(spent))
    cap, delta = policy.budget_cap, policy.report_delta
    out = []
    for period, budgets in by_period.items():
        spent = sum_budgets(budgets, "rho")
        remaining = cap - spent
        out.append(
            {
                "period": period,
                "releases": len(budgets),
                "spent_rho": spent.text,
                "spent_rho_float": float(spent.amount),
                "cap_rho": cap.text,
                "cap_rho_float": float(cap.amount),
                "remaining_rho": remaining.text,
                "remaining_rho_float": float(remaining.amount),
                "within_cap": spent <= cap,
                "delta": fraction_text(delta),
                "epsilon": rho_to_epsilon_opendp(spent.amount, delta),
                "epsilon_conversion": EPSILON_CONVERSION_OPENDP,
                "epsilon_bun_steinke": rho_to_epsilon(spent.amount, delta),
                "by_unit": recorded[period],
            }
        )
    return out


def spend_by_unit(rows: list[tuple[str, str, Budget]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per period, per unit recorded (rho first, then epsilon): {"spent": exact text, "releases": count}.

    Each unit is summed on its own: a rho and an epsilon are never added (docs/privacy.md, Budgets).
    """
    grouped: dict[str, dict[BudgetUnit, list[Budget]]] = {}
    for period, _, spent in rows:
        grouped.setdefault(period, {}).setdefault(spent.unit, []).append(spent)
    return {
        period: {
            unit: {"spent": sum_budgets(units[unit], unit).text, "releases": len(units[unit])}
            for unit in ("rho", "epsilon")
            if unit in units
        }
        for period, units in grouped.items()
    }


def year_summary(path: Path, policy: Policy) -> dict[str, Any] | None:
    """The composed loss of the rolling year ending with the latest period with spend (None: nothing spent).

    Keys named by the policy's unit: spent_rho (exact text) with its epsilon at report_delta
    (OpenDP's conversion), or spent_epsilon under pure DP (None when the year holds zCDP spend,
    which has no epsilon bound); cap_year_<unit> and within_year_cap are None without a yearly cap.
    """
    rows = _all_spend(path)
    if not rows:
        return None
    unit = policy.budget_unit
    last = max(period for period, _, _ in rows)
    months = rolling_year(last)
    spent_by_period, unbounded = _spend_by_period([r for r in rows if r[0] in months], unit)
    spent = sum_budgets(list(spent_by_period.values()), unit)
    bounded = not unbounded
    year_cap = policy.budget_cap_year
    out: dict[str, Any] = {
        "first_period": months[0],
        "last_period": last,
        "periods_with_spend": len(spent_by_period.keys() | unbounded),
        "budget_unit": unit,
        f"spent_{unit}": spent.text if bounded else None,
        f"spent_{unit}_float": float(spent.amount) if bounded else None,
        f"cap_year_{unit}": None if year_cap is None else year_cap.text,
        "within_year_cap": None if year_cap is None else bounded and spent <= year_cap,
    }
    if unit == "epsilon":
        return out | {"delta": "0", "epsilon": float(spent.amount) if bounded else None}
    return out | {
        "delta": fraction_text(policy.report_delta),
        "epsilon": rho_to_epsilon_opendp(spent.amount, policy.report_delta),
        "epsilon_conversion": EPSILON_CONVERSION_OPENDP,
    }


def _all_spend(path: Path) -> list[tuple[str, str, Budget]]:
    """Every spend row of the warehouse (none when it does not exist yet)."""
    path = Path(path)
    if not path.exists():
        return []
    con = store.connect(path, read_only=True)
    try:
        return store.spend_rows(con)
    finally:
        con.close()


def _pure_summary(rows: list[tuple[str, str, Budget]], policy: Policy) -> list[dict[str, Any]]:
    """budget_summary under pure DP: epsilon spent per period (a period with rho spend has no epsilon bound)."""
    cap = policy.budget_cap
    recorded = spend_by_unit(rows)
    by_period: dict[str, list[Budget]] = {}
    for period, _, spent in rows:
        by_period.setdefault(period, []).append(spent)
    out = []
    for period, budgets in by_period.items():
        bounded = all(b.unit == "epsilon" for b in budgets)
        spent = sum_budgets([b for b in budgets if b.unit == "epsilon"], "epsilon")
        out.append(
            {
                "period": period,
                "releases": len(budgets),
                "budget_unit": "epsilon",
                "spent_epsilon": spent.text if bounded else None,
                "spent_epsilon_float": float(spent.amount) if bounded else None,
                "cap_epsilon": cap.text,
                "cap_epsilon_float": float(cap.amount),
                "remaining_epsilon": (cap - spent).text if bounded else None,
                "within_cap": bounded and spent <= cap,
                "delta": "0",
                "note": None if bounded else "the period holds zCDP (rho) spend, which has no pure DP bound",
                "by_unit": recorded[period],
            }
        )
    return out
