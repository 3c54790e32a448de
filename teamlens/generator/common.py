"""What every part of the demo generator shares: Amazon Connect identifiers, the timestamp
formats of each export, fast seeded draws and the pool of (fictitious) names.

Every draw takes a `random.Random` seeded by the caller: nothing here reads the wall clock or
the global generator, so the files stay byte-identical for one seed.
"""

from __future__ import annotations

import functools
import json
import random
import time
import uuid
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")

ACCOUNT_ID = "123456789012"
INSTANCE_ID = "5f3a1c2e-9b7d-4e61-8a2f-0c4d6e8b1a37"
INSTANCE_ARN = f"arn:aws:connect:eu-central-1:{ACCOUNT_ID}:instance/{INSTANCE_ID}"
EVENT_VERSION = "2019-05-25"
_NS = uuid.UUID(INSTANCE_ID)

FIRST_NAMES = (
    "Anna", "Ben", "Clara", "David", "Elif", "Felix", "Greta", "Hannah", "Ibrahim", "Jonas",
    "Katarzyna", "Lukas", "Maria", "Noah", "Olga", "Paul", "Quinn", "Rosa", "Stefan", "Tanja",
    "Umut", "Vera", "Wei", "Xenia", "Yusuf", "Zoe", "Chloé", "Jürgen", "Émilie", "Liam",
    "Olivia", "Ethan", "Ava", "Raj", "Priya", "Mateo", "Sofia", "Kwame", "Aiko", "Lars",
)  # fmt: skip
LAST_NAMES = (
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann",
    "Koch", "Smith", "Brown", "Tremblay", "Roy", "Gagnon", "Lee", "Wilson", "Martin", "Nguyen",
    "Patel", "Kowalski", "Yilmaz", "Rossi", "Silva", "Santos", "Kim", "O'Brien", "Dubois",
    "Novak", "Andersen",
)  # fmt: skip


@functools.cache
def arn_of(kind: str, name: str) -> str:
    return f"{INSTANCE_ARN}/{kind}/{uuid.uuid5(_NS, kind + ':' + name)}"


@functools.cache
def _day_prefix(day_number: int) -> str:
    return time.strftime("%Y-%m-%dT", time.gmtime(day_number * 86400))


@functools.cache
def _clock() -> tuple[str, ...]:
    """ "HH:MM:SS" for every second of a day, built once: formatting is the hottest path."""
    return tuple(f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60))


def iso_seconds(sec: int) -> str:
    """Epoch seconds as Amazon Connect CTRs write them: 2026-10-05T07:00:00Z."""
    day, rest = divmod(sec, 86400)
    return f"{_day_prefix(day)}{_clock()[rest]}Z"


def iso_millis(ms: int) -> str:
    """Epoch milliseconds as the agent event stream writes them: 2026-10-05T07:00:00.123Z."""
    day, rest = divmod(ms, 86_400_000)
    return f"{_day_prefix(day)}{_clock()[rest // 1000]}.{rest % 1000:03d}Z"


def iso_activitywatch(ms: int) -> str:
    """Epoch milliseconds as ActivityWatch writes them: 2026-10-05T07:00:00.123000+00:00."""
    day, rest = divmod(ms, 86_400_000)
    return f"{_day_prefix(day)}{_clock()[rest // 1000]}.{rest % 1000:03d}000+00:00"


def uniform_int(rng: random.Random, low: int, high: int) -> int:
    """A uniform integer in [low, high]; cheaper than Random.randint, which dominates the run time."""
    return low + int(rng.random() * (high - low + 1))


def pick(rng: random.Random, seq: Sequence[T]) -> T:
    return seq[int(rng.random() * len(seq))]


dumps_compact = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def random_uuid(rng: random.Random) -> str:
    """A random (version 4) UUID drawn from the seeded generator."""
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"
