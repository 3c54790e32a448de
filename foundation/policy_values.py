"""The small value checks of the policy parser (foundation.policy), and the error they raise.

Each check names the offending key in its message. Budgets and shares are exact `Fraction`s
parsed from quoted decimal or fraction text ("0.5", "1/40", "1e-9"), never from a YAML float, so
that no budget passes through floating point.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any


class PolicyError(ValueError):
    """The policy file is invalid; the message names the key and the reason."""


def positive_fraction(value: Any, where: str) -> Fraction:
    """An exact number above 0, written as a quoted string such as "0.1"."""
    if not isinstance(value, str):
        raise PolicyError(f'{where} must be a quoted decimal string such as "0.1" (exact), got {value!r}')
    try:
        out = Fraction(value)
    except (ValueError, ZeroDivisionError) as exc:
        raise PolicyError(f"{where} is not a number: {value!r}") from exc
    if out <= 0:
        raise PolicyError(f"{where} must be positive, got {value!r}")
    return out


def optional_fraction(doc: dict[str, Any], key: str, where: str) -> Fraction | None:
    """An optional positive decimal string such as "0.5" (exact); None when the key is absent."""
    return positive_fraction(doc[key], f"{where}: {key}") if key in doc else None


def count(doc: dict[str, Any], key: str, where: str) -> int | None:
    """An optional integer of at least 0; None when the key is absent."""
    if key not in doc:
        return None
    value = doc[key]
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise PolicyError(f"{where}: {key} must be an integer of at least 0, got {value!r}")
    return value


def no_unknown(doc: dict[str, Any], allowed: set[str], where: str) -> None:
    """Refuse any key outside `allowed` (a typo must not silently mean 'not set')."""
    unknown = sorted(set(doc) - allowed)
    if unknown:
        raise PolicyError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")


def require(doc: dict[str, Any], required: set[str], where: str) -> None:
    """Refuse a mapping that lacks any of the `required` keys, naming them all."""
    missing = sorted(required - set(doc))
    if missing:
        raise PolicyError(f"{where}: missing key(s) {', '.join(missing)}")
