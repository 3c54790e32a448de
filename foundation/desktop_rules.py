"""The desktop category rules: what a desktop ingest job needs of the policy, and nothing more.

The policy (foundation.policy.Policy.desktop_rules) builds them from its category tables; the
Spark jobs compile the same rules into one column (jobs.desktop_categories), and `category` is
the pure-Python reference both are tested against, so the two cannot disagree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

# scheme://[user@]host[:port]/... -> host; the jobs use the same pattern in Spark.
URL_HOST_PATTERN = r"^[a-z][a-z0-9+.-]*://(?:[^@/?#]*@)?([^:/?#\[\]@]+)"
# The platform suffix of an application name (Windows OUTLOOK.EXE, macOS Slack.app), matched on the
# lower-case name and removed before it is looked up; the jobs use the same pattern in Spark.
PLATFORM_SUFFIX_PATTERN = r"\.(exe|app)$"


def app_key(app: str | None) -> str:
    """An application name as the category tables list it: trimmed, lower case, without .exe or .app."""
    return re.sub(PLATFORM_SUFFIX_PATTERN, "", (app or "").strip().lower())


def url_host(url: str | None) -> str:
    """The lower-case host of a URL, '' when it has none."""
    match = re.match(URL_HOST_PATTERN, (url or "").strip().lower())
    return match.group(1) if match else ""


@dataclass(frozen=True)
class CategoryRule:
    """One line of the policy's desktop category tables: kind, lower-case needle, category."""

    kind: Literal["url_host", "app", "title_keyword"]
    needle: str
    category: str


@dataclass(frozen=True)
class DesktopRules:
    """The desktop category rules in the order they are tried; the first that matches decides.

    1. the URL's host is a listed host or a subdomain of one;
    2. the application name (app_key: any case, without .exe or .app) is listed under a category
       other than web;
    3. the title contains a listed keyword, case-insensitive;
    4. the application is listed under web (browsers).
    An event no rule matches is 'web' when it is a browser tab, otherwise 'other'. No rules at
    all (the default) puts every event in 'web' or 'other'.
    """

    rules: tuple[CategoryRule, ...] = ()

    @classmethod
    def from_tables(
        cls,
        app_categories: Mapping[str, tuple[str, ...]],
        url_categories: Mapping[str, tuple[str, ...]],
        title_keywords: Mapping[str, tuple[str, ...]],
    ) -> DesktopRules:
        """The rules, in the order above, from the policy's three category tables (category -> needles)."""
        return cls(
            (
                *(CategoryRule("url_host", h, c) for c, hosts in url_categories.items() for h in hosts),
                *(
                    CategoryRule("app", app_key(a), c)
                    for c, names in app_categories.items()
                    if c != "web"
                    for a in names
                ),
                *(CategoryRule("title_keyword", k, c) for c, kws in title_keywords.items() for k in kws),
                *(CategoryRule("app", app_key(a), "web") for a in app_categories.get("web", ())),
            )
        )

    def category(self, app: str | None, title: str | None = None, url: str | None = None, browser: bool = False) -> str:
        """The category of a desktop event; title and URL are only read here, never kept."""
        app_name = app_key(app)
        title_text = (title or "").lower()
        host = url_host(url)
        for rule in self.rules:
            if rule.kind == "url_host" and host and (host == rule.needle or host.endswith("." + rule.needle)):
                return rule.category
            if rule.kind == "app" and app_name and app_name == rule.needle:
                return rule.category
            if rule.kind == "title_keyword" and rule.needle in title_text:
                return rule.category
        return "web" if browser else "other"
