"""Exact encodings shared by the ledger, the accountant and the warehouse.

Budget amounts are `Fraction`s (foundation.budget.Budget pairs one with its unit). In text they
are written as an exact decimal string when the fraction has one ("0.1", "1", "0.125") and as
"p/q" otherwise ("1/3"); `Fraction(text)` reads both back exactly. The DECIMAL(38,18) copies in
the warehouse are for convenient SQL only: when a value needs more than 18 decimal places it is
rounded UP there (so SQL sums over-state spend, never under-state it); the text column is the
authoritative value.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import numbers
from decimal import Decimal
from fractions import Fraction
from typing import Any

DECIMAL_PLACES = 18


def fraction_text(value: Fraction) -> str:
    """Exact decimal string of a fraction ("0.1"), or "p/q" when it has no finite decimal."""
    value = Fraction(value)
    den = value.denominator
    twos = fives = 0
    while den % 2 == 0:
        den //= 2
        twos += 1
    while den % 5 == 0:
        den //= 5
        fives += 1
    if den != 1:
        return f"{value.numerator}/{value.denominator}"
    places = max(twos, fives)
    scaled = value.numerator * 10**places // value.denominator  # exact: denominator divides 10**places
    sign = "-" if scaled < 0 else ""
    digits = str(abs(scaled))
    if places == 0:
        return sign + digits
    digits = digits.rjust(places + 1, "0")
    return f"{sign}{digits[:-places]}.{digits[-places:]}"


def fraction_decimal(value: Fraction) -> Decimal:
    """The value for a DECIMAL(38,18) column: exact when possible, else rounded up (conservative)."""
    scaled = math.ceil(Fraction(value) * 10**DECIMAL_PLACES)
    return Decimal(scaled).scaleb(-DECIMAL_PLACES)


def utc_text(moment: dt.datetime) -> str:
    """A timezone-aware moment as fixed-layout UTC text: 2026-11-03T12:00:00.000000Z."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"timestamps must be timezone-aware (got naive {moment!r}); pass datetime.now(datetime.UTC)")
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# Values that are JSON as they are (exactly these types: a subclass takes the checks below).
_PLAIN = frozenset({type(None), bool, int, str})


def _is_plain(item: Any) -> bool:
    """JSON as it is: a plain value, or a finite float (a non-finite one takes jsonable's error)."""
    kind = type(item)
    return kind in _PLAIN or (kind is float and math.isfinite(item))


def jsonable(value: Any) -> Any:
    """Plain JSON values: Fractions as exact text, dates as ISO text, tuples as lists."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot encode non-finite number {value!r} in the ledger")
        return value
    if isinstance(value, Fraction):
        return fraction_text(value)
    if isinstance(value, Decimal):
        return fraction_text(Fraction(value))
    if isinstance(value, (dt.date, dt.datetime)):
        return utc_text(value) if isinstance(value, dt.datetime) else value.isoformat()
    if isinstance(value, numbers.Integral):  # e.g. numpy integers
        return int(value)
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Rational):  # e.g. numpy floats
        return jsonable(float(value))
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"JSON object keys must be strings, got {key!r}")
            out[key] = item if _is_plain(item) else jsonable(item)
        return out
    if isinstance(value, (list, tuple)):
        # Plain items inline: a release's rows hold millions of them, and a call each is most of the time.
        return [item if _is_plain(item) else jsonable(item) for item in value]
    if isinstance(value, (set, frozenset)):
        return sorted(jsonable(item) for item in value)
    raise ValueError(f"cannot encode {type(value).__name__} value {value!r} as JSON")


def canonical_json(value: Any) -> str:
    """Canonical JSON text: sorted keys, no spaces, ASCII only (non-ASCII as \\uXXXX), no NaN."""
    return json.dumps(jsonable(value), sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
