"""A privacy budget: an exact amount together with its unit.

zCDP budgets are in rho, pure DP budgets in epsilon. The two do not add up (pure DP composes by
adding epsilons, zCDP by adding rhos; docs/privacy.md, Budgets), so a `Budget` carries its unit
and refuses arithmetic or comparison with a budget of the other unit. Amounts are exact
`Fraction`s and are written with `fraction_text` ("0.1", "1/3").
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from foundation.exact import fraction_text

BudgetUnit = Literal["rho", "epsilon"]
BUDGET_UNITS: tuple[BudgetUnit, ...] = ("rho", "epsilon")


class BudgetUnitMismatch(TypeError):
    """Two budgets of different units were added, subtracted or compared."""


@functools.total_ordering
@dataclass(frozen=True)
class Budget:
    """An exact privacy budget in one unit: zCDP rho or pure DP epsilon."""

    unit: BudgetUnit
    amount: Fraction

    def __post_init__(self) -> None:
        if self.unit not in BUDGET_UNITS:
            raise ValueError(f"unknown budget unit {self.unit!r}; expected one of {', '.join(BUDGET_UNITS)}")
        object.__setattr__(self, "amount", Fraction(self.amount))

    @classmethod
    def zero(cls, unit: BudgetUnit) -> Budget:
        return cls(unit, Fraction(0))

    @classmethod
    def parse(cls, unit: str, text: str) -> Budget:
        """A budget from its unit and exact text (as `text` writes it)."""
        if unit not in BUDGET_UNITS:
            raise ValueError(f"unknown budget unit {unit!r}; expected one of {', '.join(BUDGET_UNITS)}")
        return cls(unit, Fraction(text))  # type: ignore[arg-type]

    def _same_unit(self, other: object) -> Budget:
        if not isinstance(other, Budget):
            raise TypeError(f"a budget combines only with a budget, not {type(other).__name__}")
        if other.unit != self.unit:
            raise BudgetUnitMismatch(f"cannot combine {self} with {other}: rho and epsilon budgets do not add up")
        return other

    def __add__(self, other: Budget) -> Budget:
        return Budget(self.unit, self.amount + self._same_unit(other).amount)

    def __sub__(self, other: Budget) -> Budget:
        return Budget(self.unit, self.amount - self._same_unit(other).amount)

    def __mul__(self, factor: int | Fraction) -> Budget:
        return Budget(self.unit, self.amount * factor)

    __rmul__ = __mul__

    def __truediv__(self, parts: int | Fraction) -> Budget:
        return Budget(self.unit, self.amount / parts)

    def __lt__(self, other: Budget) -> bool:
        return self.amount < self._same_unit(other).amount

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Budget):
            return NotImplemented
        return self.unit == other.unit and self.amount == other.amount

    def __hash__(self) -> int:
        return hash((self.unit, self.amount))

    @property
    def text(self) -> str:
        """The exact amount as text, without the unit ("0.25", "1/3")."""
        return fraction_text(self.amount)

    def __str__(self) -> str:
        return f"{self.unit} {self.text}"


def sum_budgets(budgets: list[Budget], unit: BudgetUnit) -> Budget:
    """The exact sum of budgets of one unit (zero for none)."""
    total = Budget.zero(unit)
    for budget in budgets:
        total = total + budget
    return total
