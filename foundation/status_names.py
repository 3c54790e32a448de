"""The policy's status name keywords: which words put an agent status or a scheduled activity in a category.

Contact centers name their not-ready statuses (Break, Mittagspause, Besprechung) and their
scheduled activities (Lunch, Schulung) in their own language, so the words are policy, not code
(policy key `status_name_keywords`, category -> words). A name belongs to the first category, in
the fixed order break, meeting, training, other, one of whose words it contains (case-insensitive),
so the order of the keys in the file never changes a result. A name that contains no listed word
is *not in the policy's table*: it still counts as 'other', but the run reports it by name and
count (teamlens.run_summary) instead of moving it silently. Listing a word under `other` declares
such names as known (after-call work is neither break, meeting nor training).

The pure-Python `category` is the reference the Spark column (jobs.columns.status_name_category)
and the DuckDB reference (jobs.metrics_duckdb) are tested against.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from foundation.schema import NOT_READY_CATEGORY_NAMES

POLICY_KEY = "status_name_keywords"
# The category of a name that contains none of the policy's words.
UNLISTED_CATEGORY = "other"


@dataclass(frozen=True)
class StatusNameKeywords:
    """(category, lower-case words) in the fixed order of NOT_READY_CATEGORY_NAMES; empty: no name is listed."""

    categories: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def listed_category(self, name: str | None) -> str | None:
        """The category of a status or activity name; None when it contains no listed word."""
        text = (name or "").lower()
        for category, words in self.categories:
            if any(word in text for word in words):
                return category
        return None

    def category(self, name: str | None) -> str:
        """The category of a name, 'other' when it contains no listed word."""
        return self.listed_category(name) or UNLISTED_CATEGORY

    def words(self, category: str) -> tuple[str, ...]:
        """The words of one category, () when it has none."""
        return dict(self.categories).get(category, ())


def parse_status_name_keywords(value: Any, where: str, error: type[ValueError] = ValueError) -> StatusNameKeywords:
    """The `status_name_keywords` table: category (break, meeting, training, other) -> non-empty words.

    None (key absent) is the empty table: every not-ready status name is then reported as not in it.
    A word listed under two categories is refused: only the first would ever match.
    """
    if value is None:
        return StatusNameKeywords()
    key = f"{where}: {POLICY_KEY}"
    if not isinstance(value, dict):
        raise error(f"{key} must be a mapping of category to words")
    seen: dict[str, str] = {}
    for category, words in value.items():
        if category not in NOT_READY_CATEGORY_NAMES:
            raise error(f"{key}.{category} is not a status category ({', '.join(NOT_READY_CATEGORY_NAMES)})")
        if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
            raise error(f"{key}.{category} must be a list of non-empty words")
        for word in words:
            normal = word.strip().lower()
            if normal in seen and seen[normal] != category:
                raise error(f"{key}: {normal!r} is listed under both {seen[normal]} and {category}")
            seen[normal] = category
    return StatusNameKeywords(
        tuple(
            (c, tuple(dict.fromkeys(w.strip().lower() for w in value[c])))
            for c in NOT_READY_CATEGORY_NAMES
            if c in value
        )
    )


def policy_file_keywords(policy_path: Path) -> StatusNameKeywords:
    """The status name keywords of a policy file (for a job whose caller passed none)."""
    from foundation.policy import load_policy  # policy builds on this module

    return load_policy(policy_path).status_name_keywords
