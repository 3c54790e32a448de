"""Desktop activity: one host's ActivityWatch export for a shift (window, afk and browser buckets),
with the window titles and URLs that ingestion must drop.
"""

from __future__ import annotations

import bisect
import itertools
import random
from typing import Any

from teamlens.generator.common import FIRST_NAMES, LAST_NAMES, iso_activitywatch, pick, uniform_int
from teamlens.generator.schedules import ShiftRun

DESKTOP_APPS: tuple[tuple[str, int], ...] = (
    ("Salesforce", 30),
    ("Amazon Connect CCP", 20),
    ("Confluence", 12),
    ("Outlook", 12),
    ("Teams", 12),
    ("Google Chrome", 10),
    ("Notepad", 4),
)

_KB_PAGES = (
    "Refund policy",
    "Troubleshooting: no dial tone",
    "Contract cancellation checklist",
    "Roaming tariffs 2026",
    "Escalation matrix",
    "How to verify a caller",
)


def _window_title(rng: random.Random, app: str) -> str:
    customer = f"{pick(rng, FIRST_NAMES)} {pick(rng, LAST_NAMES)}"
    case = f"{uniform_int(rng, 10_000, 9_999_999):08d}"
    if app == "Salesforce":
        return f"Case {case} - {customer} | Salesforce"
    if app == "Amazon Connect CCP":
        return pick(rng, ("Amazon Connect Contact Control Panel", f"CCP - Case {case} - {customer}"))
    if app == "Confluence":
        return f"{pick(rng, _KB_PAGES)} - Customer Service - Confluence"
    if app == "Outlook":
        return f"RE: Case {case} - {customer} - Outlook"
    if app == "Teams":
        return f"Chat | {pick(rng, FIRST_NAMES)} {pick(rng, LAST_NAMES)} | Microsoft Teams"
    if app == "Google Chrome":
        return f"Order {case[2:]} - {customer} - Shop Admin - Google Chrome"
    return f"notes {customer}.txt - Notepad"


def activitywatch_export(rng: random.Random, run: ShiftRun) -> tuple[dict[str, Any], int]:
    """One host's ActivityWatch export for a shift, and its number of events."""
    host = run.agent.host
    begin = (run.login - uniform_int(rng, 60, 420)) * 1000 + uniform_int(rng, 0, 999)
    end = (run.logout + uniform_int(rng, 20, 240)) * 1000 + uniform_int(rng, 0, 999)
    apps = [a for a, _ in DESKTOP_APPS]
    cumulative = list(itertools.accumulate(w for _, w in DESKTOP_APPS))
    window: list[dict[str, Any]] = []
    t, app = begin, "Outlook"
    while t < end:
        duration = min(uniform_int(rng, 60_000, 480_000), end - t)
        window.append(
            {
                "id": len(window) + 1,
                "timestamp": iso_activitywatch(t),
                "duration": duration / 1000,
                "data": {"app": app, "title": _window_title(rng, app)},
            }
        )
        t += duration
        nxt = app
        while nxt == app:
            nxt = apps[bisect.bisect(cumulative, rng.random() * cumulative[-1])]
        app = nxt

    away: list[tuple[int, int]] = []
    for status, s, e in run.custom:
        if status in ("Break", "Lunch") or (status == "Meeting" and rng.random() < 0.5):
            away.append((s * 1000 + uniform_int(rng, 0, 60_000), e * 1000 - uniform_int(rng, 0, 30_000)))
    for _ in range(pick(rng, (0, 1, 1, 2, 3))):
        s = uniform_int(rng, begin, max(begin, end - 420_000))
        away.append((s, s + uniform_int(rng, 120_000, 420_000)))
    merged: list[list[int]] = []
    for s, e in sorted(away):
        s, e = max(s, begin), min(e, end)
        if e <= s:
            continue
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    afk: list[dict[str, Any]] = []
    cursor = begin
    for s, e in [*merged, [end, end]]:
        for status, a, b in (("not-afk", cursor, s), ("afk", s, e)):
            if b > a:
                afk.append(
                    {
                        "id": len(afk) + 1,
                        "timestamp": iso_activitywatch(a),
                        "duration": (b - a) / 1000,
                        "data": {"status": status},
                    }
                )
        cursor = e

    # The browser watcher's active tab while the browser has focus: a CRM case or the shop admin,
    # with the customer in URL and title (the policy maps the host to a category; neither passes).
    tabs: list[dict[str, Any]] = []
    for w in window:
        if w["data"]["app"] != "Google Chrome":
            continue
        order = w["data"]["title"].split(" ")[1]
        customer = w["data"]["title"].split(" - ")[1]
        if len(tabs) % 3 == 0:
            url = f"https://acme.lightning.force.com/lightning/r/Case/5003{order}/view"
            title = f"Case 5003{order} | {customer} | Salesforce"
        else:
            url = f"https://shop-admin.example.com/orders/{order}?customer={customer.replace(' ', '+')}"
            title = w["data"]["title"].removesuffix(" - Google Chrome")
        data = {"url": url, "title": title, "audible": False, "incognito": False, "tabCount": 3}
        tabs.append({"id": len(tabs) + 1, "timestamp": w["timestamp"], "duration": w["duration"], "data": data})

    created = "2026-01-05T08:00:00.000000+00:00"
    window_id, afk_id = f"aw-watcher-window_{host}", f"aw-watcher-afk_{host}"
    web_id = f"aw-watcher-web-chrome_{host}"
    doc = {
        "buckets": {
            window_id: {
                "id": window_id,
                "created": created,
                "type": "currentwindow",
                "client": "aw-watcher-window",
                "hostname": host,
                "events": window,
            },
            afk_id: {
                "id": afk_id,
                "created": created,
                "type": "afkstatus",
                "client": "aw-watcher-afk",
                "hostname": host,
                "events": afk,
            },
            web_id: {
                "id": web_id,
                "created": created,
                "type": "web.tab.current",
                "client": "aw-client-web",
                "hostname": host,
                "events": tabs,
            },
        }
    }
    return doc, len(window) + len(afk) + len(tabs)
