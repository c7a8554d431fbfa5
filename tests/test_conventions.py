"""Code-health tests: the project's conventions, enforced rather than hoped for.

The bundled package matches the specification (clause ids, texts, kinds), every
number and label is cited and bilingual, every explanation can be said in both
languages, the core imports nothing from web, database or terminal layers, and
money never passes through a binary float.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

from huiqi.engine import Evaluation, evaluate
from huiqi.engine.explain import Node
from huiqi.engine.render import catalog, explain_clause, tree
from huiqi.errors import InputError
from huiqi.facts import Facts, load_facts, parse_facts
from huiqi.policies import DEFAULT_POLICY
from huiqi.policy import PolicyPackage, load_package
from huiqi.policy.cases import load_cases
from huiqi.policy.checks import normalise
from huiqi.yamlio import read_data

from .conftest import FIXTURES

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "huiqi"
SHARED = REPO.parent / "shared" / "policy"
INTERPRETATIONS = REPO / "docs" / "interpretations.md"

#: Interpretations part B: what each clause's amount is.
KINDS: dict[str, tuple[str, ...]] = {
    "fixed": ("2.1", "4.1a", "4.4b"),
    "computed": ("2.2a", "3.3", "4.1b", "5.2b", "5.3", "6.2", "7.1", "7.2"),
    "ceiling": ("2.2b", "3.2", "4.2", "4.3", "4.4a", "5.1", "5.2a", "7.4"),
    "discretionary": ("3.1", "6.1"),
    "external": ("5.4", "7.3"),
}

#: Modules of the core (engine, policy format, facts) and what they must never import.
CORE = ("engine", "policy", "facts")
OUTER_LAYERS = {"sqlalchemy", "fastapi", "starlette", "typer", "rich", "click"}

#: Explanation nodes that are pure containers: ``render.line`` says nothing for them,
#: their children say it all.
CONTAINERS = {"subject"}


@cache
def chenzhou() -> PolicyPackage:
    return load_package(DEFAULT_POLICY)


def shared_file(name: str) -> Path:
    """A file of the shared specification; absent is a failure on CI, a skip elsewhere."""
    path = SHARED / name
    if not path.is_file():
        message = f"shared specification {path} is absent"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def test_a_missing_shared_file_fails_on_ci_and_is_skipped_elsewhere(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(f"{__name__}.SHARED", tmp_path)
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception):
        shared_file("chenzhou-2021-3.md")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        shared_file("chenzhou-2021-3.md")


def interpretation_clause_ids() -> list[str]:
    text = INTERPRETATIONS.read_text(encoding="utf-8")
    start = text.index("Clause ids used everywhere")
    paragraph = text[start:].split("\n\n", 1)[0]
    return re.findall(r"`([^`]+)`", paragraph)


# -- the bundled package against the specification ---------------------------------


def test_interpretations_list_every_clause_id_once() -> None:
    ids = interpretation_clause_ids()
    assert len(ids) == len(set(ids)) == 24
    assert ids[0] == "1"


def test_every_listed_clause_id_has_a_clause_file_and_vice_versa() -> None:
    listed = set(interpretation_clause_ids()) - {"1"}
    files = {p.stem for p in (DEFAULT_POLICY / "clauses").glob("*.yaml")}
    assert files == listed
    assert set(chenzhou().clauses) == listed


def test_clause_1_is_the_scope_in_policy_yaml() -> None:
    assert "1" in interpretation_clause_ids()
    assert chenzhou().policy.scope.clause == "1"
    assert not (DEFAULT_POLICY / "clauses" / "1.yaml").exists()


def test_every_clause_text_occurs_in_the_policy_text() -> None:
    source = normalise(chenzhou().source_text)
    assert normalise(chenzhou().policy.scope.text) in source
    for clause in chenzhou().clauses.values():
        assert normalise(clause.text) in source, clause.id


def test_the_bundled_source_is_the_shared_policy_text() -> None:
    shared = shared_file("chenzhou-2021-3.md")
    bundled = DEFAULT_POLICY / chenzhou().policy.source
    assert bundled.read_text(encoding="utf-8") == shared.read_text(encoding="utf-8")


def test_the_docs_interpretations_page_is_the_shared_one() -> None:
    shared = shared_file("interpretations.md")
    assert INTERPRETATIONS.read_text(encoding="utf-8") == shared.read_text(encoding="utf-8")


def test_the_kinds_table_covers_every_clause_once() -> None:
    listed = [cid for ids in KINDS.values() for cid in ids]
    assert len(listed) == len(set(listed))
    assert set(listed) == set(interpretation_clause_ids()) - {"1"}


@pytest.mark.parametrize(
    ("clause_id", "kind"), [(cid, kind) for kind, ids in KINDS.items() for cid in ids]
)
def test_every_clause_has_the_kind_of_amount_interpretations_b_gives(
    clause_id: str, kind: str
) -> None:
    assert chenzhou().clauses[clause_id].kind.value == kind


# -- citations and labels -------------------------------------------------------------


def test_every_parameter_has_a_unit_a_bilingual_label_and_a_citation() -> None:
    for package in (chenzhou(), load_package(FIXTURES / "mini_policy")):
        params = [(f"parameters/{n}", p) for n, p in package.parameters.items()]
        params += [
            (f"{c.id}.{n}", p) for c in package.clauses.values() for n, p in c.parameters.items()
        ]
        assert params
        for name, param in params:
            assert param.unit is not None, name
            assert param.label.zh.strip() and param.label.en.strip(), name
            assert (param.quote or "").strip() or param.reference is not None, name
            assert param.values, name


def test_every_clause_has_a_chinese_and_an_english_title() -> None:
    for clause in chenzhou().clauses.values():
        assert re.search(r"[\u4e00-\u9fff]", clause.title.zh), clause.id
        assert re.search(r"[A-Za-z]", clause.title.en), clause.id


#: Messages that may be empty on purpose: a count is shown bare ("23", not "23个").
MAY_BE_EMPTY = {"unit.count"}


def _message_params() -> list[object]:
    return [pytest.param(key, id=key) for key in catalog() if key not in MAY_BE_EMPTY]


def test_only_the_bare_count_unit_is_empty() -> None:
    assert {k for k, v in catalog().items() if not v["zh"] or not v["en"]} == MAY_BE_EMPTY


@pytest.mark.parametrize("key", _message_params())
def test_every_message_has_chinese_and_english_text(key: str) -> None:
    entry = catalog()[key]
    assert set(entry) == {"zh", "en"}, key
    assert isinstance(entry["zh"], str) and entry["zh"].strip()
    assert isinstance(entry["en"], str) and entry["en"].strip()


# -- every explanation can be said in both languages ----------------------------------


def _case_facts(root: Path) -> Iterator[tuple[PolicyPackage, Facts, int]]:
    package = load_package(root)
    bases = read_data(root / "tests" / "_bases.yaml")
    year = package.policy.validity.first_award_year
    for base in bases.values():
        yield package, parse_facts(base), year
    for case in load_cases(root):
        if case.error is None:
            yield package.with_switches(case.switches), parse_facts(case.facts), case.year


@cache
def evaluations() -> list[Evaluation]:
    """Every example, every base applicant and every case of both packages, evaluated."""
    runs = []
    for path in sorted((REPO / "examples").glob("*.yaml")) + sorted(
        (REPO / "examples").glob("*.json")
    ):
        facts = load_facts(path)
        runs.append(evaluate(chenzhou(), facts, facts.award_year))
    for root in (DEFAULT_POLICY, FIXTURES / "mini_policy"):
        for package, facts, year in _case_facts(root):
            try:
                runs.append(evaluate(package, facts, year))
            except InputError:
                continue  # a case the engine refuses is test_policy_cases' to report
    return runs


def _nodes_below_the_clause_roots() -> Iterator[Node]:
    for run in evaluations():
        yield from run.scope.walk()
        for clause in run.clauses:
            for child in clause.explanation.children:
                yield from child.walk()


def test_the_explanations_checked_cover_many_kinds_of_node() -> None:
    keys = {node.key for node in _nodes_below_the_clause_roots()}
    assert len(evaluations()) >= 20
    assert {
        "scope",
        "cond.compare",
        "tier",
        "amount.fixed",
        "amount.rate",
        "cap",
        "once",
        "subject.item",
    } <= keys


def test_every_explanation_node_key_has_a_message() -> None:
    keys = {node.key for node in _nodes_below_the_clause_roots()} - CONTAINERS
    assert not keys - set(catalog()), sorted(keys - set(catalog()))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_explanation_node_renders_in_both_languages(lang: str) -> None:
    for run in evaluations():
        assert tree(run.scope, lang)
        for clause in run.clauses:
            for child in clause.explanation.children:
                lines = tree(child, lang)
                assert all(isinstance(line, str) for line in lines)
                if child.key not in CONTAINERS:
                    assert lines and lines[0].strip(), child.key
            assert len(explain_clause(clause, lang)) >= 2


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_whole_clause_explanation_renders_with_tree(lang: str) -> None:
    for run in evaluations()[:1]:
        for clause in run.clauses:
            assert tree(clause.explanation, lang)


# -- layering and exact money -----------------------------------------------------------


def _core_modules() -> list[Path]:
    return sorted(p for part in CORE for p in (SRC / part).rglob("*.py"))


@pytest.mark.parametrize("path", _core_modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_the_core_imports_nothing_from_web_database_or_terminal_layers(path: Path) -> None:
    imported: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & OUTER_LAYERS


def test_money_never_passes_through_a_binary_float() -> None:
    paths = [*sorted((SRC / "engine").rglob("*.py")), SRC / "money.py"]
    assert len(paths) > 5
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            assert "float(" not in line, f"{path.relative_to(SRC)}:{number}: {line.strip()}"
