"""The managers' pages on a tiny warehouse: exact figures, intervals, comparisons and flags.

Releases go through the real publish path (privacy.accountant.publish_release) with fixed draws,
then the published snapshot is written and the pages requested with FastAPI's TestClient.

team_week (rho 0.25): week 41 and week 42 of 2026 for Berlin-Sales and Berlin-Support (Berlin-Pilot,
4 agents, merged into 'Berlin: small teams merged', which is itself too small and suppressed);
site_week: week 42 for Berlin. Worked by hand: Berlin-Support's contacts rose from 812 (noise
scale 3) to 900 (noise scale 4): +88; the difference's noise has scale sqrt(3^2 + 4^2) = 5, whose
95% half-width is 1.959964 x 5 + 1/2 = 10.3, rounded up to 11 (OpenDP's integer noise): [77, 99].
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import pytest
import yaml

from foundation.policy import Policy, load_policy
from foundation.settings import Settings
from privacy.accountant import publish_release
from teamlens.dashboard import figures as fg
from tests.helpers import TEAM_WEEK, TEST_KEY, FakeDraw, approve, policy_document
from warehouse.records import GroupDecision, NoisyRelease, PublishedValue, ReleaseKey
from warehouse.snapshot import write_snapshot

WEEK_41, WEEK_42 = dt.date(2026, 10, 5), dt.date(2026, 10, 12)
SITE_WEEK = {**TEAM_WEEK, "name": "site_week", "purpose": "weekly workload per site", "group_by": "site"}
GROUPS = (
    GroupDecision("Berlin-Pilot", 4, "merged_into_parent", merged_into="Berlin: small teams merged"),
    GroupDecision("Berlin-Sales", 12, "released"),
    GroupDecision("Berlin-Support", 15, "released"),
    GroupDecision("Berlin: small teams merged", 4, "suppressed_small_group"),
)
PARENTS = {"Berlin-Pilot": "Berlin", "Berlin-Sales": "Berlin", "Berlin-Support": "Berlin"}
# Names that must never appear: roster names and the pseudonyms of the agents behind the figures.
Status = Literal["published", "too_noisy"]
ROSTER_NAMES = ("Anna Schmidt", "Bert Meyer")


def value(group: str, statistic: str, *numbers: float | None, status: Status = "published") -> PublishedValue:
    v, low, high, scale = numbers
    return PublishedValue(group, statistic, v, low, high, scale, status)


TEAM_DRAWS = {
    WEEK_41: (
        value("Berlin-Sales", "contacts_handled", 700.0, 693.0, 707.0, 3.0),
        value("Berlin-Sales", "agents_over_bound_contacts_handled", 3.0, 1.0, 5.0, 1.0),  # flags the sum
        value("Berlin-Sales", "aht_seconds", 290.0, 270.0, 311.0, None),
        value("Berlin-Support", "contacts_handled", 812.0, 805.0, 819.0, 3.0),
        value("Berlin-Support", "aht_seconds", 301.5, 280.0, 325.0, None),
    ),
    WEEK_42: (
        value("Berlin-Sales", "contacts_handled", None, None, None, 4.0, status="too_noisy"),
        value("Berlin-Sales", "aht_seconds", None, None, None, None, status="too_noisy"),
        value("Berlin-Support", "contacts_handled", 900.0, 891.0, 909.0, 4.0),
        value("Berlin-Support", "aht_seconds", 330.0, 310.0, 352.0, None),
    ),
}
SITE_DRAW = (
    value("Berlin", "contacts_handled", 2400.0, 2379.0, 2421.0, 10.0),
    value("Berlin", "aht_seconds", 250.0, 240.0, 261.0, None),
)


def publish(wh: Path, policy: Policy, name: str, start: dt.date, values: Any, groups: Any, parameters: Any) -> None:
    draw = FakeDraw(NoisyRelease(values, groups, "gaussian (zCDP), test double", parameters))
    key = ReleaseKey(name, start, start + dt.timedelta(days=7), policy.sha256)
    at = dt.datetime(2026, 10, 20, tzinfo=dt.UTC)
    out = publish_release(wh, key, policy.release(name), policy, "tester", draw, now=lambda: at)
    assert out.status == "released", out.message


@pytest.fixture
def client(settings: Settings, tmp_path: Path) -> Any:
    from fastapi.testclient import TestClient

    from teamlens.dashboard.app import create_app

    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(policy_document([TEAM_WEEK, SITE_WEEK], cap="2"), sort_keys=False))
    policy = load_policy(path)
    wh = settings.lake.warehouse_path
    wh.parent.mkdir(parents=True)
    approve(wh, policy, at=dt.datetime(2026, 10, 1, tzinfo=dt.UTC))
    for start, values in TEAM_DRAWS.items():
        publish(wh, policy, "team_week", start, values, GROUPS, {"group_parents": PARENTS})
    publish(wh, policy, "site_week", WEEK_42, SITE_DRAW, (GroupDecision("Berlin", 31, "released"),), {})
    write_snapshot(wh, settings.lake.published_snapshot_path)
    settings = type(settings)(**{**settings.__dict__, "policy_path": path})
    return TestClient(create_app(settings))


def clock(at: dt.datetime) -> Callable[[], dt.datetime]:
    """A clock standing at `at` (the publish time a release records)."""
    return lambda: at


def csv_rows(client: Any, url: str) -> list[list[str]]:
    response = client.get(url)
    assert response.status_code == 200, url
    return list(csv.reader(io.StringIO(response.text)))


def test_the_overview_lists_each_release_with_purpose_grain_and_budget(client: Any) -> None:
    assert client.get("/").status_code == 200
    assert csv_rows(client, "/releases.csv") == [
        ["Release", "Purpose", "Grain", "Budget", "Windows published", "First window", "Latest window"],
        [
            "site_week",
            "weekly workload per site",
            "per site and week",
            "rho 0.25 per agent and window (zCDP)",
            "1",
            "week 42 of 2026 (12 Oct - 18 Oct 2026)",
            "week 42 of 2026 (12 Oct - 18 Oct 2026)",
        ],
        [
            "team_week",
            "weekly",
            "per team and week",
            "rho 0.25 per agent and window (zCDP)",
            "2",
            "week 41 of 2026 (5 Oct - 11 Oct 2026)",
            "week 42 of 2026 (12 Oct - 18 Oct 2026)",
        ],
    ]


def test_figures_show_their_intervals_and_greyed_figures_say_why(client: Any) -> None:
    w41, w42 = "week 41 of 2026 (5 Oct - 11 Oct 2026)", "week 42 of 2026 (12 Oct - 18 Oct 2026)"
    assert csv_rows(client, "/release/team_week/contacts_handled.csv") == [
        ["Window", "Group", "Agents in roster", "Value", "95% interval", "Note"],
        [w41, "Berlin-Sales", "12", "700", "[693, 707]", fg.UNDERSTATED],
        [w41, "Berlin-Support", "15", "812", "[805, 819]", ""],
        [w42, "Berlin-Sales", "12", "-", "-", fg.TOO_NOISY],
        [w42, "Berlin-Support", "15", "900", "[891, 909]", ""],
    ]
    assert csv_rows(client, "/release/team_week/aht_seconds.csv")[1:] == [
        [w41, "Berlin-Sales", "12", "4:50", "[4:30, 5:11]", fg.FROM_UNDERSTATED],
        [w41, "Berlin-Support", "15", "5:02", "[4:40, 5:25]", ""],  # 301.5 s rounds to 302 s
        [w42, "Berlin-Sales", "12", "-", "-", fg.TOO_NOISY],
        [w42, "Berlin-Support", "15", "5:30", "[5:10, 5:52]", ""],
    ]
    # the over-bound counts show only as the flag, never as a table of their own
    assert client.get("/release/team_week/agents_over_bound_contacts_handled.csv").status_code == 404
    page = client.get("/release/team_week").text
    # 4 figures, 2 changes from a too noisy figure, 1 team against its site
    assert page.count('<tr class="greyed">') == 7 and "<svg" in page


def test_the_latest_window_is_compared_with_the_previous_with_its_own_interval(client: Any) -> None:
    rows = csv_rows(client, "/release/team_week/changes.csv")
    assert rows[0] == ["Group", "Figure", "Latest window", "Value", "Previous window", "Value", "Change", "How"]
    by_figure = {(r[0], r[1]): r[6:] for r in rows[1:]}
    assert by_figure[("Berlin-Support", "Contacts handled")] == [
        "higher by 88 (range [+77, +99])",  # 88 +- 11, worked by hand in the module docstring
        fg.METHOD_WORDS["noise"],
    ]
    # a ratio: from the two intervals, [310 - 325, 352 - 280] = [-15, +72] s
    assert by_figure[("Berlin-Support", "Average handle time")] == [
        "no clear difference (+0:28, range [-0:15, +1:12])",
        fg.METHOD_WORDS["intervals"],
    ]
    assert by_figure[("Berlin-Sales", "Contacts handled")][0] == "cannot compare: a figure is too noisy"


def test_a_team_is_compared_with_its_site_on_averages_only(client: Any) -> None:
    week_42 = "week 42 of 2026 (12 Oct - 18 Oct 2026)"
    assert csv_rows(client, "/release/team_week/team-vs-site.csv")[1:] == [
        [
            week_42,
            "Berlin-Sales",
            "Berlin",
            "Average handle time",
            "-",
            "4:10",
            "cannot compare: a figure is too noisy",
            "",
        ],
        # [310 - 261, 352 - 240] = [+49, +112] s: entirely above 0
        [
            "week 42 of 2026 (12 Oct - 18 Oct 2026)",
            "Berlin-Support",
            "Berlin",
            "Average handle time",
            "5:30",
            "4:10",
            "higher by 1:20 (range [+0:49, +1:52])",
            fg.METHOD_WORDS["intervals"],
        ],
    ]
    assert client.get("/release/site_week/team-vs-site.csv").status_code == 404


def test_merged_and_suppressed_groups_are_explained(client: Any) -> None:
    page = client.get("/release/team_week").text
    assert "Berlin-Pilot &rarr; <strong>Berlin: small teams merged</strong> (2 windows)" in page
    assert "Berlin: small teams merged (4 agents in the roster, 2 windows)" in page
    assert "minimum of 10 agents" in page


def test_no_page_or_csv_carries_a_pseudonym_a_release_id_or_a_roster_name(client: Any) -> None:
    from foundation.roster import pseudonym

    urls = ["/", "/releases.csv", "/release/team_week", "/release/site_week"]
    for name in ("team_week", "site_week"):
        urls += [f"/release/{name}/{t}.csv" for t in ("contacts_handled", "aht_seconds", "changes")]
    urls.append("/release/team_week/team-vs-site.csv")
    forbidden = [*ROSTER_NAMES, *(pseudonym(TEST_KEY.encode(), e) for e in ("E-1", "E-2"))]
    for url in urls:
        text = client.get(url).text
        assert not re.search(r"[0-9a-f]{20,}", text), url  # no pseudonym (64 hex), no release id (20 hex)
        assert not any(word in text for word in forbidden), url


def test_an_unknown_release_is_not_found(client: Any) -> None:
    assert client.get("/release/nothing").status_code == 404


def test_laplace_differences_add_the_two_975_percent_half_widths() -> None:
    from privacy.mechanisms import half_width

    def sum_figure(v: float, scale: float) -> fg.Figure:
        return fg.Figure("r", "site", "Berlin", WEEK_41, WEEK_42, "contacts_handled", v, 0, 0, scale, 20, 0, "count")

    c = fg.difference_interval(sum_figure(50, 2.0), sum_figure(40, 1.0), "discrete_laplace")
    half = half_width(2.0, 0.025, "discrete_laplace") + half_width(1.0, 0.025, "discrete_laplace")
    assert (c.difference, c.low, c.high, c.method) == (10, 10 - half, 10 + half, "noise")
    # a sum published as 0 may be clamped: its comparison falls back to the intervals
    zero = fg.Figure("r", "site", "Berlin", WEEK_41, WEEK_42, "contacts_handled", 0, 0, 5, 2.0, 20, 0, "count")
    assert fg.difference_interval(sum_figure(50, 2.0), zero, "discrete_laplace").method == "intervals"


@pytest.mark.parametrize(
    ("number", "unit", "signed", "text"),
    [
        (1234.4, "count", False, "1,234"),
        (45000.0, "hours", False, "12.5 h"),
        (307.0, "duration", False, "5:07"),
        (-15.0, "duration", True, "-0:15"),
        (0.853, "share", False, "85.3 %"),
        (0.2, "count", True, "0"),
        (None, "count", False, "-"),
    ],
)
def test_numbers_read_in_their_units(number: float | None, unit: str, signed: bool, text: str) -> None:
    assert fg.format_number(number, unit, signed) == text


@pytest.mark.parametrize(
    ("statistic", "label"),
    [
        ("aht_seconds", "Average handle time"),
        ("responses", "Survey responses"),
        ("recommend_enps", "Recommend: eNPS, promoters minus detractors (points)"),
        ("tools_mean", "Tools: average answer"),
        ("work_load_detractors", "Work load: detractors (0-6)"),
        ("after_call_seconds", "After call"),  # any other name: its words
    ],
)
def test_statistics_read_as_words_survey_figures_too(statistic: str, label: str) -> None:
    assert fg.statistic_label(statistic) == label


def test_a_corrected_window_shows_the_latest_figure_and_says_it_is_a_correction(settings: Settings) -> None:
    from fastapi.testclient import TestClient

    from teamlens.dashboard.app import create_app
    from tests.helpers import make_test_policy

    policy = make_test_policy([TEAM_WEEK], max_corrections_per_window=1)
    wh = settings.lake.warehouse_path
    wh.parent.mkdir(parents=True)
    approve(wh, policy)
    key = ReleaseKey("team_week", WEEK_41, WEEK_42, policy.sha256)
    # the window's metrics were recomputed on 13 Oct (late data): the second publish corrects it
    for contacts, released_on, inputs_on in ((100.0, 13, 12), (120.0, 14, 13)):
        at = dt.datetime(2026, 10, released_on, tzinfo=dt.UTC)
        draw = FakeDraw(
            NoisyRelease(
                (value("Berlin-Support", "contacts_handled", contacts, contacts - 9, contacts + 9, 4.0),),
                (GroupDecision("Berlin-Support", 15, "released"),),
                "test double",
                {},
            )
        )
        as_of = dt.datetime(2026, 10, inputs_on, tzinfo=dt.UTC)
        spec = policy.release("team_week")
        out = publish_release(wh, key, spec, policy, "tester", draw, now=clock(at), inputs_as_of=as_of)
        assert out.status == "released", out.message
    write_snapshot(wh, settings.lake.published_snapshot_path)
    client = TestClient(create_app(settings))
    assert csv_rows(client, "/release/team_week/contacts_handled.csv")[1:] == [
        [
            "week 41 of 2026 (5 Oct - 11 Oct 2026)",
            "Berlin-Support",
            "15",
            "120",
            "[111, 129]",
            "correction 1: published again after late data",
        ]
    ]
    page = client.get("/release/team_week").text
    assert "week 41 of 2026 (5 Oct - 11 Oct 2026): correction 1, published 2026-10-14 00:00 UTC" in page
