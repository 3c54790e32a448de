"""Desktop categories: the policy's rule order, and the Spark expression agreeing with it."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from foundation.desktop_rules import url_host
from foundation.policy import PolicyError, load_policy
from foundation.settings import REPO_ROOT
from jobs.desktop_categories import category_column
from tests.helpers import make_test_policy

POLICY = load_policy(REPO_ROOT / "foundation" / "policy.yaml")
RELEASE = {
    "name": "r",
    "purpose": "p",
    "group_by": "team",
    "window": "month",
    "rho": "0.1",
    "sums": {"contacts_handled": 10},
}


@pytest.mark.parametrize(
    ("app", "title", "url", "browser", "expected"),
    [
        ("Salesforce", "Case 1 - Jane", None, False, "crm"),  # application name
        ("OUTLOOK ", "RE: salesforce renewal", None, False, "communication"),  # the app beats a title keyword
        ("Google Chrome", "Case 5003 | Jane | Salesforce", None, False, "crm"),  # title keyword in a browser
        ("Google Chrome", "Order 1 - Jane - Shop Admin", None, False, "web"),  # a browser, nothing more known
        (None, "Jane - CRM", "https://acme.lightning.force.com/lightning/r/Case/1/view", True, "crm"),  # subdomain
        (None, "Confluence - Jane", "https://shop.example.com/x", True, "knowledge_base"),  # title after URL
        (None, "Jane", "https://notsalesforce.com/", True, "web"),  # a suffix only at a dot
        (None, "Jane", "HTTPS://user@Teams.Microsoft.com:443/x", True, "communication"),  # case, user, port
        ("Notepad", "notes Jane.txt", None, False, "other"),
        (None, None, None, False, "other"),
    ],
)
def test_rule_order(app, title, url, browser, expected) -> None:
    assert POLICY.desktop_category(app, title, url, browser) == expected


def test_url_host() -> None:
    assert url_host("https://a.B.com:8443/path?q=1#x") == "a.b.com"
    assert url_host("http://user:pw@host.example/") == "host.example"
    assert url_host("not a url") == ""
    assert url_host(None) == ""


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("desktop_url_categories", {"crm": ["https://x.com/"]}, "is not a host name"),
        ("desktop_url_categories", {"gossip": ["x.com"]}, "desktop_url_categories.gossip is not a known category"),
        ("desktop_title_keywords", {"crm": [""]}, "desktop_title_keywords.crm must be a list of non-empty"),
        ("desktop_title_keywords", ["crm"], "desktop_title_keywords must be a mapping"),
    ],
)
def test_bad_category_tables_are_named(key, value, message) -> None:
    with pytest.raises(PolicyError, match=message):
        make_test_policy([RELEASE], **{key: value})


WORDS = st.sampled_from(
    ["salesforce", "Confluence", "teams", "jane", "Google Chrome", "outlook", "case 1", "", " ", "ü", "knowledge base"]
)
URLS = st.one_of(
    st.none(),
    st.builds(
        lambda scheme, sub, host, rest: f"{scheme}://{sub}{host}{rest}",
        st.sampled_from(["https", "http", "HTTPS", "chrome-extension"]),
        st.sampled_from(["", "acme.", "www.", "eu1.", "x.not"]),
        st.sampled_from(["salesforce.com", "force.com", "slack.com", "example.com", "Atlassian.NET", "com"]),
        st.sampled_from(["", "/", ":443/a?b=c", "#frag", "/x@y"]),
    ),
    st.text(max_size=20),
)


# Each example is one Spark job: fewer, larger examples cover as many events for less time.
@hsettings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    events=st.lists(
        st.tuples(st.one_of(st.none(), WORDS), st.one_of(st.none(), WORDS, st.text(max_size=15)), URLS, st.booleans()),
        min_size=1,
        max_size=30,
    )
)
def test_spark_expression_matches_the_policy(spark, events) -> None:
    from pyspark.sql import functions as F

    frame = spark.createDataFrame(events, "app string, title string, url string, browser boolean")
    got = frame.select(
        category_column(POLICY.desktop_rules(), F.col("app"), F.col("title"), F.col("url"), F.col("browser")).alias("c")
    ).collect()
    assert [r["c"] for r in got] == [POLICY.desktop_category(*e) for e in events]
