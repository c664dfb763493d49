"""docs/architecture.md stays true to the tree, and requirement numbers lead somewhere.

- every path named in a table of docs/architecture.md exists: module paths under
  `src/ledgerbridge/`, `tests/…`, `docs/…` and `bench/…` from the repository root; for
  `file::name`, `name` is defined in that file (a test function, class or assigned name);
- every requirement of docs/requirements.md has exactly one row in the requirement table,
  and the table names no requirement that docs/requirements.md does not define;
- every requirement number cited in tests/, src/ or docs/ (`R-INV-7`, or `R_INV_7` /
  `r_inv_7` in a test name) is defined in docs/requirements.md.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "ledgerbridge"
ARCHITECTURE = ROOT / "docs" / "architecture.md"
REQUIREMENTS = ROOT / "docs" / "requirements.md"
FROM_ROOT = ("tests/", "docs/", "bench/")
TABLE_HEADER = "| Requirement | Module(s) | Test(s) | Notes |"

DEFINED = re.compile(r"^- (R-[A-Z]+-\d+) ", re.MULTILINE)
CITED = re.compile(r"(?<![A-Za-z0-9])R[-_]([A-Za-z]{2,4})[-_](\d+)", re.IGNORECASE)
CODE = re.compile(r"`([^`]+)`")
PATH = re.compile(r"^[\w.\-/]+(::\w+)?$")


def defined_requirements(text: str) -> list[str]:
    return DEFINED.findall(text)


def table_rows(text: str, header: str) -> list[list[str]]:
    """The cells of the rows of the table whose header line is `header`."""
    lines = text.splitlines()
    start = lines.index(header) + 2  # skip the header and its |---| line
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def all_table_rows(text: str) -> list[list[str]]:
    """The cells of every table row of `text` (header and rule lines included)."""
    return [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in text.splitlines()
        if line.startswith("|")
    ]


def named_paths(cells: list[str]) -> list[str]:
    """The paths in backquotes in `cells`: with a `/` or ending `.py`, not a URL path."""
    found = []
    for cell in cells:
        for token in CODE.findall(cell):
            bare = token.split("::")[0]
            if (
                PATH.match(token)
                and not token.startswith("/")
                and ("/" in bare or bare.endswith(".py"))
            ):
                found.append(token)
    return found


def row_paths(row: list[str]) -> list[str]:
    """The paths a table row names. In a row that starts with a folder (the layout table:
    `sync/` | … `rules.py` …), the other cells name paths inside that folder."""
    (first, *rest) = named_paths(row[:1]) or [""]
    if first.endswith("/") and rest == []:
        return [first, *(first + path for path in named_paths(row[1:]))]
    return named_paths(row)


def missing(path: str) -> str | None:
    """Why `path` (as named in the document) does not lead anywhere, or None."""
    file, _, name = path.partition("::")
    base = ROOT if file.startswith(FROM_ROOT) else PACKAGE
    target = base / file
    if not target.exists():
        return f"{path}: {target.relative_to(ROOT)} does not exist"
    if name:
        if not target.is_file():
            return f"{path}: {file} is not a file"
        source = target.read_text(encoding="utf-8")
        pattern = rf"^\s*(?:async\s+def|def|class)\s+{re.escape(name)}\b|^{re.escape(name)}\s*="
        if not re.search(pattern, source, re.MULTILINE):
            return f"{path}: no {name} in {file}"
    return None


def undefined_citations(paths: list[Path], defined: set[str]) -> dict[str, list[str]]:
    """Requirement numbers cited in `paths` that `defined` lacks → the files citing them."""
    cited: dict[str, set[str]] = {}
    for path in paths:
        for match in CITED.finditer(path.read_text(encoding="utf-8")):
            number = f"R-{match.group(1).upper()}-{match.group(2)}"
            if number not in defined:
                where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
                cited.setdefault(number, set()).add(str(where))
    return {number: sorted(files) for number, files in cited.items()}


def test_every_path_in_the_architecture_tables_exists() -> None:
    rows = all_table_rows(ARCHITECTURE.read_text(encoding="utf-8"))
    paths = [path for row in rows for path in row_paths(row)]
    assert len(paths) > 100  # the tables were found and read
    assert [why for path in paths if (why := missing(path)) is not None] == []


def test_every_requirement_has_exactly_one_row() -> None:
    defined = defined_requirements(REQUIREMENTS.read_text(encoding="utf-8"))
    rows = table_rows(ARCHITECTURE.read_text(encoding="utf-8"), TABLE_HEADER)
    in_table = Counter(row[0] for row in rows)
    assert len(defined) == len(set(defined)) > 40
    assert {number: n for number, n in in_table.items() if n != 1} == {}
    assert sorted(set(defined) - set(in_table)) == []
    assert sorted(set(in_table) - set(defined)) == []


def test_every_row_names_a_module_and_a_test_or_says_not_yet() -> None:
    for number, modules, tests, _notes in table_rows(
        ARCHITECTURE.read_text(encoding="utf-8"), TABLE_HEADER
    ):
        module_paths, test_paths = named_paths([modules]), named_paths([tests])
        assert module_paths or modules == "not yet", number
        assert test_paths or tests == "not yet", number
        assert all(not p.startswith(FROM_ROOT) for p in module_paths), number
        assert all(p.startswith(FROM_ROOT) for p in test_paths), number


def test_every_cited_requirement_is_defined() -> None:
    defined = set(defined_requirements(REQUIREMENTS.read_text(encoding="utf-8")))
    files = [
        *(ROOT / "tests").rglob("*.py"),
        *PACKAGE.rglob("*.py"),
        *(ROOT / "docs").glob("*.md"),
        ROOT / "README.md",
    ]
    assert undefined_citations(files, defined) == {}


def test_the_checks_catch_a_wrong_path_name_and_number(tmp_path: Path) -> None:
    assert missing("sync/engine.py") is None
    assert missing("operations/backfill/") is None
    assert missing("tests/unit/test_layering.py::test_layering") is None
    assert missing("sync/no_such_module.py") is not None
    assert missing("tests/unit/test_layering.py::test_no_such_test") is not None
    assert row_paths(["`sync/`", "the planner (`plan.py`)"]) == ["sync/", "sync/plan.py"]
    assert row_paths(["`errors.py`", "`sync/`"]) == ["errors.py", "sync/"]
    assert named_paths(["`sync/plan.py`, `tests/x.py::t`, `/webhooks/qbo`, `SyncEngine`"]) == [
        "sync/plan.py",
        "tests/x.py::t",
    ]
    # Built from parts, so that this file itself cites no undefined number.
    name, prose = "_".join(("r", "inv", "99")), "-".join(("R", "FOO", "1"))
    planted = tmp_path / "test_planted.py"
    planted.write_text(f"def test_{name}(): ...\n# {prose} and R-INV-7\n", encoding="utf-8")
    undefined = undefined_citations([planted], {"R-INV-7"})
    assert undefined == {name.upper().replace("_", "-"): [planted.name], prose: [planted.name]}
