"""The layers hold: each package imports only the packages below it, modules stay readable (docs/architecture.md).

    dags -> teamlens (application) -> jobs, expectations, privacy -> warehouse -> foundation

privacy may use warehouse; jobs and privacy never import each other; nothing imports dags.
Imports inside functions count as much as those at the top of a module.
"""

from __future__ import annotations

import ast
from pathlib import Path

from foundation.settings import REPO_ROOT

PACKAGES = ("foundation", "jobs", "expectations", "warehouse", "privacy", "teamlens", "dags", "tools")
# What each package may import besides itself.
ALLOWED = {
    "foundation": set(),
    "jobs": {"foundation"},
    "expectations": {"foundation"},
    "warehouse": {"foundation"},
    "privacy": {"foundation", "warehouse"},
    "teamlens": {"foundation", "jobs", "expectations", "warehouse", "privacy"},
    "dags": {"teamlens"},
    # standalone: an auditor runs them with Python and a few libraries, without the pipeline
    "tools": set(),
}
MAX_MODULE_LINES = 600


def _modules(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (REPO_ROOT / folder).rglob("*.py"))


def _imported_packages(path: Path) -> set[str]:
    """The top-level project packages and test modules a module imports (anywhere in it)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def test_each_package_imports_only_the_layers_below_it():
    wrong = []
    for package in PACKAGES:
        for path in _modules(package):
            used = {name.split(".")[0] for name in _imported_packages(path)} & set(PACKAGES)
            for other in sorted(used - ALLOWED[package] - {package}):
                wrong.append(f"{path.relative_to(REPO_ROOT)} imports {other}")
    assert wrong == []


def test_no_module_over_the_line_limit():
    long = [
        f"{p.relative_to(REPO_ROOT)}: {n} lines"
        for p in _modules(*PACKAGES, "tests")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    ]
    assert long == []


def test_no_test_module_imports_another():
    """Shared fixtures live in conftest.py, shared helpers in tests/helpers.py; nothing else is shared."""
    shared = {"tests.helpers", "tests.conftest"}
    wrong = []
    for path in _modules("tests"):
        for name in _imported_packages(path):
            if name.startswith("tests.test_") or (
                name.startswith("tests.") and name.count(".") == 1 and name not in shared
            ):
                wrong.append(f"{path.name} imports {name}")
    assert wrong == []


def test_code_cites_only_documents_in_the_repository():
    """A module that points the reader to a document points to one that exists in docs/.

    Code never cites an issue tracker's number ("issue" followed by a number): the reader of the
    repository cannot follow it; the reason belongs in a docstring or in docs/.
    """
    import re

    cited = re.compile(r"\b([\w-]+\.md)\b")
    issue = re.compile(r"\bissues?\s*#?\d+", re.IGNORECASE)
    this_module = Path(__file__).resolve()
    missing = []
    for path in _modules(*PACKAGES, "tests"):
        text = path.read_text(encoding="utf-8")
        for name in sorted(set(cited.findall(text))):
            if name.lower() != "readme.md" and not (REPO_ROOT / "docs" / name).is_file():
                missing.append(f"{path.relative_to(REPO_ROOT)} cites {name}")
        if path.resolve() != this_module:
            for number in sorted(set(issue.findall(text))):
                missing.append(f"{path.relative_to(REPO_ROOT)} cites {number!r}")
    assert missing == []


def test_nothing_cites_notes_outside_the_repository():
    """The repository explains itself: no code or document points at notes kept beside it."""
    outside = ("../" + "shared", "shared" + "/samples")  # split, so that this test does not match itself
    found = [
        str(p.relative_to(REPO_ROOT))
        for p in [*_modules(*PACKAGES, "tests"), *sorted((REPO_ROOT / "docs").rglob("*.md")), REPO_ROOT / "README.md"]
        if any(marker in p.read_text(encoding="utf-8") for marker in outside)
    ]
    assert found == []
