"""A broken policy package is refused whole, and the refusal says exactly where.

Each folder under ``fixtures/broken_packages`` is a copy of the mini policy
(``fixtures/mini_policy``) with exactly one defect, described at the top of its
``expected.yaml``. That file names the ``file``, ``clause`` (null: the problem
names no clause) and ``field`` that some :class:`PackageProblem` must name, so a
reviewer who edited a YAML file by hand is sent to the right line of the right file.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from huiqi.policy import PackageError, load_package
from huiqi.policy.loader import PackageProblem
from huiqi.yamlio import read_data

from .conftest import FIXTURES

BROKEN = FIXTURES / "broken_packages"
MINI = FIXTURES / "mini_policy"

#: Defects the loader is known to miss: folder name -> why (each becomes a strict xfail).
KNOWN_MISSES: dict[str, str] = {}

FOLDERS = sorted(p for p in BROKEN.iterdir() if p.is_dir())

_CJK = re.compile(r"[\u4e00-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")


def _params() -> list[Any]:
    params = []
    for folder in FOLDERS:
        marks = []
        if folder.name in KNOWN_MISSES:
            marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_MISSES[folder.name]))
        params.append(pytest.param(folder, id=folder.name, marks=marks))
    return params


def _names(problem: PackageProblem, expected: dict[str, Any]) -> bool:
    if expected["file"] not in problem.file:
        return False
    if expected["clause"] is None:
        if problem.clause is not None:
            return False
    elif problem.clause is None or str(expected["clause"]) not in problem.clause:
        return False
    return str(expected["field"]) in problem.field


def test_the_mini_policy_the_broken_packages_start_from_loads() -> None:
    # Control: every broken folder is refused because of its one defect, not the original.
    assert load_package(MINI).id == "example-2024-1"


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and p.name != "expected.yaml" and p.relative_to(root).parts[0] != "tests"
    }


@pytest.mark.parametrize("folder", FOLDERS, ids=[f.name for f in FOLDERS])
def test_each_broken_package_differs_from_the_mini_policy_in_one_file(folder: Path) -> None:
    mini, broken = _files(MINI), _files(folder)
    changed = {name for name in mini.keys() | broken.keys() if mini.get(name) != broken.get(name)}
    if len(changed) == 2:  # a renamed file: one name gone, one new, same content
        gone, new = sorted(changed, key=lambda n: n in broken)
        assert gone not in broken and new not in mini and mini[gone] == broken[new], changed
    else:
        assert len(changed) == 1, changed


def test_every_broken_package_says_what_it_expects() -> None:
    assert len(FOLDERS) >= 24
    for folder in FOLDERS:
        expected = read_data(folder / "expected.yaml")
        assert set(expected) == {"file", "clause", "field"}, folder.name
        assert (folder / "expected.yaml").read_text(encoding="utf-8").startswith("# Defect:")


@pytest.mark.parametrize("folder", _params())
def test_a_broken_package_is_refused_with_a_problem_naming_file_clause_and_field(
    folder: Path,
) -> None:
    expected = read_data(folder / "expected.yaml")
    with pytest.raises(PackageError) as raised:
        load_package(folder)
    problems = raised.value.problems
    assert problems
    shown = "\n".join(f"{p.file} [{p.clause}] {p.field}: {p.zh} / {p.en}" for p in problems)
    matching = [p for p in problems if _names(p, expected)]
    assert matching, f"no problem names {expected}; got:\n{shown}"
    for problem in matching:
        assert _CJK.search(problem.zh), f"no Chinese in {problem.zh!r}"
        assert _LATIN.search(problem.en), f"no English in {problem.en!r}"
        assert problem.zh != problem.en
        assert problem.line("zh") != problem.line("en")
    # The exception's own message lists every problem (in English) for logs and tracebacks.
    assert all(p.en in str(raised.value) for p in problems)


def test_a_tiered_clause_may_take_its_numbers_from_the_shared_parameter_files(
    tmp_path: Path,
) -> None:
    root = tmp_path / "pkg"
    shutil.copytree(MINI, root, ignore=shutil.ignore_patterns("tests"))
    clause = root / "clauses" / "m1.yaml"
    text = clause.read_text(encoding="utf-8")
    head, params = text.split("parameters:\n", 1)
    clause.write_text(head, encoding="utf-8")
    (root / "parameters" / "tiers.yaml").write_text("parameters:\n" + params, encoding="utf-8")
    package = load_package(root)
    assert set(package.parameters) >= {"export_1", "export_2", "award_1", "award_2"}
