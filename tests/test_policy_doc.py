"""docs/policy.md is generated from the policy's key declaration, is current, and says what the parser does.

The parser takes its key sets from the declaration (foundation/policy_keys.py); these tests check
the rest against the real parser: the shipped policy holds only declared keys, every key's
example value is accepted, a required key is required and an optional one is not, every declared
choice is accepted and anything else refused, and the worked examples parse.
"""

from __future__ import annotations

import copy
from fractions import Fraction
from typing import Any

import pytest
import yaml

from foundation.policy import DEFAULT_BOUNDS_MAX_FACTOR, PolicyError, load_policy, parse_policy
from foundation.policy_keys import MODELS, SECTIONS, PolicyKey, PolicySection
from foundation.settings import REPO_ROOT
from foundation.survey_policy_keys import SURVEY_SECTIONS
from teamlens.policy_doc import POLICY_DOC_PATH, PURE_EXAMPLE, ZCDP_EXAMPLE, render

POLICY_FILE = REPO_ROOT / "foundation" / "policy.yaml"
EXAMPLES = {"zcdp": ZCDP_EXAMPLE, "pure": PURE_EXAMPLE}


def _example(model: str) -> dict[str, Any]:
    return yaml.safe_load(EXAMPLES[model])


# Where each section's mapping lies in a policy document (the worked examples hold every section).
LOCATE = {
    "top level": lambda doc: doc,
    "retention_days": lambda doc: doc["retention_days"],
    "releases": lambda doc: doc["releases"][0],
    "ratios": lambda doc: doc["releases"][0]["ratios"]["aht_seconds"],
    "bounds_suggestion": lambda doc: doc["bounds_suggestion"],
    "surveys": lambda doc: _with_survey(doc)["surveys"][0],
    "questions": lambda doc: _with_survey(doc)["surveys"][0]["questions"][0],
}
ALL_SECTIONS = (*SECTIONS, *SURVEY_SECTIONS)


def _with_survey(doc: dict[str, Any]) -> dict[str, Any]:
    """The document with a pulse survey (the worked examples have none), in the model's budget unit."""
    if "surveys" not in doc:
        budget_key = "epsilon" if doc.get("privacy_model") == "pure" else "rho"
        doc["surveys"] = yaml.safe_load(SURVEY_EXAMPLE.replace("rho:", f"{budget_key}:"))
    return doc


SURVEY_EXAMPLE = """
- id: pulse
  purpose: Whether agents find their workload manageable.
  measure: team_month_contacts_aht.aht_seconds
  rho: "0.02"
  window: month
  questions:
    - {id: enps, scale: enps_0_10, text: "Would you recommend us as an employer?"}
    - {id: workload, scale: likert_1_5, text: My workload is manageable.}
"""

KEYS = [(section, key) for section in ALL_SECTIONS for key in section.keys]
KEY_IDS = [f"{section.name}.{key.name}" for section, key in KEYS]


def _parse(doc: dict[str, Any]) -> None:
    parse_policy(copy.deepcopy(doc), sha256="0" * 64)


def test_policy_doc_is_current() -> None:
    assert POLICY_DOC_PATH.read_text(encoding="utf-8") == render(), "run: .venv/bin/python -m teamlens.schema_doc"


def test_doc_has_a_row_for_every_declared_key() -> None:
    text = render()
    for section, key in KEYS:
        assert f"| `{key.name}` | {key.type} | " in text, f"{section.name}.{key.name}"


def test_every_section_is_located_and_every_key_fully_described() -> None:
    assert set(LOCATE) == {s.name for s in ALL_SECTIONS}
    for section, key in KEYS:
        assert key.type and key.meaning and key.example and key.allowed_text(), f"{section.name}.{key.name}"
        assert set(key.required) <= set(key.models) <= set(MODELS)
        if set(key.models) - set(key.required):
            assert key.default, f"{section.name}.{key.name}: optional somewhere, so it needs a default"


def test_worked_examples_parse_and_cost_what_the_doc_says() -> None:
    for model in MODELS:
        _parse(_example(model))
    policy = parse_policy(_example("zcdp"))
    month = policy.release("team_month_contacts_aht").rho + 6 * policy.release("site_week_contacts").rho
    assert month == Fraction(86, 100)
    assert policy.bounds_suggestion is not None
    assert month + 2 * policy.bounds_suggestion.budget.amount == Fraction(96, 100) <= policy.budget_cap.amount
    assert "0.5 + 6 x 0.06 = 0.86 rho a month" in render()
    assert "12 x 0.86 = 10.32 rho" in render() and 12 * month == Fraction(1032, 100)


def test_every_key_of_the_shipped_policy_is_declared() -> None:
    doc = yaml.safe_load(POLICY_FILE.read_text(encoding="utf-8"))
    by_name = {s.name: s for s in ALL_SECTIONS}

    def undeclared(mapping: dict[str, Any], section: str) -> set[str]:
        return set(mapping) - by_name[section].allowed()

    assert undeclared(doc, "top level") == set()
    assert undeclared(doc["retention_days"], "retention_days") == set()
    assert undeclared(doc.get("bounds_suggestion", {}), "bounds_suggestion") == set()
    for release in doc["releases"]:
        assert undeclared(release, "releases") == set()
        for ratio in release.get("ratios", {}).values():
            assert undeclared(ratio, "ratios") == set()
    load_policy(POLICY_FILE)


@pytest.mark.parametrize(("section", "key"), KEYS, ids=KEY_IDS)
def test_every_declared_example_is_accepted(section: PolicySection, key: PolicyKey) -> None:
    doc = _example(key.models[0])
    LOCATE[section.name](doc)[key.name] = yaml.safe_load(key.example)
    _parse(doc)


@pytest.mark.parametrize(("section", "key"), KEYS, ids=KEY_IDS)
def test_required_keys_are_required_and_optional_ones_are_not(section: PolicySection, key: PolicyKey) -> None:
    for model in MODELS:
        if key.name == "privacy_model" and model != "zcdp":
            continue  # without it a policy is zcdp, whose budget keys the pure example does not hold
        doc = _example(model)
        mapping = LOCATE[section.name](doc)
        if model not in key.models:
            mapping[key.name] = yaml.safe_load(key.example)
            with pytest.raises(PolicyError, match=key.name):
                _parse(doc)
            continue
        if key.name not in mapping:
            assert model not in key.required, f"the {model} example lacks required {key.name}"
            continue
        del mapping[key.name]
        if model in key.required:
            with pytest.raises(PolicyError, match=f"missing key\\(s\\) {key.name}"):
                _parse(doc)
        else:
            _parse(doc)


@pytest.mark.parametrize(("section", "key"), KEYS, ids=KEY_IDS)
def test_every_optional_key_is_read(section: PolicySection, key: PolicyKey) -> None:
    """Setting an optional key to its example changes the parsed policy: no key is accepted and ignored."""
    model = key.models[0]
    if model in key.required or key.name == "privacy_model":  # privacy_model: its example is the default
        return
    without = _example(model)
    LOCATE[section.name](without).pop(key.name, None)
    with_key = copy.deepcopy(without)
    LOCATE[section.name](with_key)[key.name] = yaml.safe_load(key.example)
    assert parse_policy(with_key, sha256="0" * 64) != parse_policy(without, sha256="0" * 64)


@pytest.mark.parametrize(("section", "key"), [(s, k) for s, k in KEYS if k.choices], ids=lambda v: v.name)
def test_declared_choices_are_exactly_the_accepted_values(section: PolicySection, key: PolicyKey) -> None:
    for choice in key.choices:
        doc = _example(choice if key.name == "privacy_model" else key.models[0])
        LOCATE[section.name](doc)[key.name] = choice
        _parse(doc)
    doc = _example(key.models[0])
    LOCATE[section.name](doc)[key.name] = "not_a_choice"
    with pytest.raises(PolicyError, match=key.name):
        _parse(doc)


def test_an_undeclared_key_is_refused_in_every_section() -> None:
    for section in SECTIONS:
        doc = _example("zcdp")
        LOCATE[section.name](doc)["undeclared_key"] = 1
        with pytest.raises(PolicyError, match="unknown key\\(s\\) undeclared_key"):
            _parse(doc)


def test_declared_defaults_match_the_parser() -> None:
    doc = _example("zcdp")
    for key in ("small_groups", "max_corrections_per_window", "max_relative_half_width", "clipping_check_share"):
        doc.pop(key, None)
    policy = parse_policy(doc)
    top = SECTIONS[0]
    assert top.key("small_groups").default == f"`{policy.small_groups}`" == "`suppress`"
    assert top.key("privacy_model").default == f"`{policy.privacy_model}`" == "`zcdp`"
    assert top.key("max_corrections_per_window").default == str(policy.max_corrections_per_window) == "0"
    assert policy.max_relative_half_width is None and policy.releases[0].clipping_check_share is None
    assert policy.bounds_suggestion is not None
    bounds_default = next(s for s in SECTIONS if s.name == "bounds_suggestion").key("max_factor").default
    assert bounds_default == str(policy.bounds_suggestion.max_factor) == str(DEFAULT_BOUNDS_MAX_FACTOR)
