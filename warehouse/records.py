"""The records a release produces and the warehouse stores: shared by privacy/ and warehouse/."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Literal

from foundation.budget import Budget


@dataclass(frozen=True)
class ReleaseKey:
    """Identifies a release: (release name, window) and the correction number.

    A window is released once; whatever releases it again (late data) is its next correction.
    The policy it was released under is recorded beside it but is not part of its identity, so
    a changed policy never re-releases a published window by itself.
    """

    release_name: str
    window_start: dt.date
    window_end: dt.date  # exclusive
    policy_sha256: str
    # 0: the window's first release; k > 0: its k-th correction (late data, if the policy allows it)
    correction: int = 0
    # The id a stored release was written under: releases stored before the policy left the
    # identity carry ids that also hashed the policy, and keep them.
    stored_id: str | None = dataclasses.field(default=None, compare=False)

    @property
    def release_id(self) -> str:
        if self.stored_id is not None:
            return self.stored_id
        text = f"{self.release_name}|{self.window_start}|{self.window_end}"
        if self.correction:
            text += f"|correction={self.correction}"
        return hashlib.sha256(text.encode()).hexdigest()[:20]

    @classmethod
    def of_stored(cls, row: dict[str, object]) -> ReleaseKey:
        """The key of a stored releases row, with the id it was stored under."""
        return cls(
            release_name=str(row["release_name"]),
            window_start=row["window_start"],  # type: ignore[arg-type]
            window_end=row["window_end"],  # type: ignore[arg-type]
            policy_sha256=str(row["policy_sha256"]),
            correction=int(row["correction"]),  # type: ignore[call-overload]
            stored_id=str(row["release_id"]),
        )

    def corrected(self, correction: int) -> ReleaseKey:
        """The key of this window's `correction`-th correction."""
        return dataclasses.replace(self, correction=correction, stored_id=None)


GroupStatus = Literal["released", "suppressed_small_group", "merged_into_parent"]


@dataclass(frozen=True)
class GroupDecision:
    """Whether a roster group was released, decided from public facts (roster size) only.

    A group under the policy's minimum size is suppressed, or (policy `small_groups:
    merge_into_parent`) merged: its agents count in the group named by `merged_into`, which pools
    the small groups of one parent (a team's site) and is itself released only if large enough.
    """

    group_value: str
    roster_size: int
    status: GroupStatus
    merged_into: str | None = None

    def ledger_form(self) -> dict[str, object]:
        """The decision as release ledger entries record it (merged_into only when set)."""
        out: dict[str, object] = {"group_value": self.group_value, "roster_size": self.roster_size}
        out["status"] = self.status
        if self.merged_into is not None:
            out["merged_into"] = self.merged_into
        return out


@dataclass(frozen=True)
class PublishedValue:
    """One published statistic of one group: a noisy value with its 95% interval.

    value, ci_low and ci_high are None when the statistic is too noisy to publish
    (status 'too_noisy', for example a ratio whose noisy denominator interval reaches 0).
    """

    group_value: str
    statistic: str
    value: float | None
    ci_low: float | None
    ci_high: float | None
    noise_scale: float | None  # standard deviation of the noise added (sums); None for ratios
    status: Literal["published", "too_noisy"]


@dataclass(frozen=True)
class NoisyRelease:
    """What the DP step returns: values for released groups and the decisions for all groups."""

    values: tuple[PublishedValue, ...]
    groups: tuple[GroupDecision, ...]
    mechanism: str  # e.g. "gaussian (zCDP), OpenDP 0.16 integer Gaussian"
    parameters: dict[str, object]  # bounds, per-sum budget, noise scales: recorded in the ledger


@dataclass(frozen=True)
class ReleaseOutcome:
    """What publishing a release did: released now, returned from storage, or refused."""

    key: ReleaseKey
    status: Literal["released", "stored", "refused"]
    budget: Budget  # what the release costs each agent per period: rho, or epsilon under pure DP
    periods: tuple[str, ...]
    values: tuple[PublishedValue, ...]
    groups: tuple[GroupDecision, ...]
    message: str
