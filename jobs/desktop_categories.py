"""The desktop category rules (foundation.desktop_rules.DesktopRules) as one Spark column.

Titles and URLs are read only inside this expression: the staged row keeps the category.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from foundation.desktop_rules import PLATFORM_SUFFIX_PATTERN, URL_HOST_PATTERN, DesktopRules

if TYPE_CHECKING:
    from pyspark.sql import Column


def category_column(rules: DesktopRules, app: Column, title: Column, url: Column, browser: Column) -> Column:
    """The category of each event, first matching rule wins, as DesktopRules.category."""
    from pyspark.sql import functions as F

    app_name = F.regexp_replace(F.lower(F.trim(F.coalesce(app, F.lit("")))), PLATFORM_SUFFIX_PATTERN, "")
    title_text = F.lower(F.coalesce(title, F.lit("")))
    host = F.regexp_extract(F.lower(F.trim(F.coalesce(url, F.lit("")))), URL_HOST_PATTERN, 1)
    fallback = F.when(F.coalesce(browser, F.lit(False)), F.lit("web")).otherwise(F.lit("other"))
    if not rules.rules:
        return fallback
    out = None
    for rule in rules.rules:
        needle = F.lit(rule.needle)
        if rule.kind == "url_host":
            matches = (host != "") & ((host == needle) | host.endswith("." + rule.needle))
        elif rule.kind == "app":
            matches = app_name == needle
        else:
            matches = title_text.contains(rule.needle)
        out = F.when(matches, F.lit(rule.category)) if out is None else out.when(matches, F.lit(rule.category))
    assert out is not None
    return out.otherwise(fallback)
