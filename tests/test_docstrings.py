"""The "Introduced in Chapter N" lines of utils/ agree with what the chapters import.

Every helper's docstring names the chapter that introduces it (d2l's "Defined
in" lines, which d2l generates). Here they are written by hand and checked
against the chapters' code, so that they cannot drift:

- a module imported by a chapter says "Introduced in Chapter N", N being the
  first chapter that imports it (directly, or through ``tfcustom.setup``, which
  every chapter's setup cell runs), and its "used by Chapter(s) ..." list, when
  it has one, names exactly the later chapters that import it;
- a function or class whose docstring names a chapter is introduced there:
  the first chapter whose code uses it by name, or, for a helper that no
  chapter calls by name, no earlier than its module.
"""

from __future__ import annotations

import ast
import re

import nbformat
import pytest

from booktools.book import ROOT, chapter_paths
from booktools.notebooks import python_source

UTILS = ROOT / "utils"
INTRODUCED = re.compile(r"Introduced in Chapter (\d+)")
USED_BY = re.compile(r"used by (Chapters? [^;]*?)(?:\.\s|\.$|;|$)")


def chapter_number(path) -> int:
    return int(path.name[:2])


def numbers(text: str) -> set[int]:
    """Chapter numbers named in a "used by ..." phrase (digits only)."""
    return {int(n) for n in re.findall(r"\b(\d+)\b", text)}


def utils_modules() -> dict[str, ast.Module]:
    """Each module of the package by name; a subpackage is one module, its files together
    (its ``__init__.py`` first, so that the docstring is the subpackage's)."""
    modules = {
        path.stem: ast.parse(path.read_text(encoding="utf-8"))
        for path in sorted(UTILS.glob("*.py"))
        if path.stem != "__init__"
    }
    for init in sorted(UTILS.glob("*/__init__.py")):
        files = [init, *sorted(p for p in init.parent.glob("*.py") if p != init)]
        body = [node for path in files for node in ast.parse(path.read_text("utf-8")).body]
        modules[init.parent.name] = ast.Module(body=body, type_ignores=[])
    return modules


def reexports() -> dict[str, str]:
    """Names that ``utils/__init__.py`` re-exports: ``{name: module}``."""
    tree = ast.parse((UTILS / "__init__.py").read_text(encoding="utf-8"))
    return {
        alias.asname or alias.name: node.module
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and node.level == 1
        for alias in node.names
    }


def utils_imports(tree: ast.Module) -> set[str]:
    """The utils modules that one utils module imports (``from .x import``)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            found.add(node.module.split(".")[0])
    return found


def chapter_uses(code: str, modules: set[str], names: dict[str, str]):
    """``(modules, words)``: the utils modules a chapter imports, and its code's words."""
    used = set()
    for node in ast.walk(ast.parse(python_source(code))):
        if isinstance(node, ast.ImportFrom) and node.module == "tfcustom":
            for alias in node.names:
                used.add(alias.name if alias.name in modules else names.get(alias.name))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tfcustom."):
            used.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            used |= {a.name.split(".")[1] for a in node.names if a.name.startswith("tfcustom.")}
    return used - {None}, set(re.findall(r"\b\w+\b", code))


def chapter_code(path) -> str:
    cells = nbformat.read(path, as_version=4).cells
    return "\n".join(c.source for c in cells if c.cell_type == "code" and "%" not in c.source[:1])


@pytest.fixture(scope="module")
def book():
    modules = utils_modules()
    names = reexports()
    closure = {name: utils_imports(tree) for name, tree in modules.items()}
    chapters = {}
    for path in chapter_paths():
        used, words = chapter_uses(chapter_code(path), set(modules), names)
        chapters[chapter_number(path)] = (used, words)
    return modules, closure, chapters


def through_setup(closure) -> set[str]:
    """``setup`` and every utils module it imports, directly or not."""
    seen, todo = set(), ["setup"]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(closure.get(name, ()))
    return seen


def first_chapters(book) -> dict[str, list[int]]:
    """For each utils module, the chapters that import it (sorted)."""
    modules, closure, chapters = book
    every = through_setup(closure)
    return {
        name: sorted(n for n, (used, _) in chapters.items() if name in used or name in every)
        for name in modules
    }


def test_module_lines_name_the_chapters_that_import_them(book):
    modules, closure, chapters = book
    importers = first_chapters(book)
    every = through_setup(closure)
    problems = []
    for name, tree in modules.items():
        doc = " ".join((ast.get_docstring(tree) or "").split())
        claim = INTRODUCED.search(doc)
        users = importers[name]
        direct = sorted(n for n, (used, _) in chapters.items() if name in used)
        if direct and not claim:
            problems.append(f"{name}.py: imported by chapter {direct[0]} but names no chapter")
        if not claim:
            continue
        if not users:
            problems.append(f"{name}.py: says Chapter {claim[1]}, but no chapter imports it")
            continue
        if int(claim[1]) != users[0]:
            problems.append(f"{name}.py: says Chapter {claim[1]}, first imported by {users[0]}")
        used_by = USED_BY.search(doc[claim.end() :])
        if used_by and name not in every:
            if numbers(used_by[1]) - {users[0]} != set(direct[1:]):
                problems.append(
                    f"{name}.py: 'used by {used_by[1]}', but chapters {direct[1:]} import it"
                )
    assert not problems, "\n".join(problems)


def test_function_lines_name_the_chapter_that_first_uses_them(book):
    modules, _, chapters = book
    importers = first_chapters(book)
    problems = []
    for name, tree in modules.items():
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef | ast.ClassDef):
                continue
            claim = INTRODUCED.search(" ".join((ast.get_docstring(node) or "").split()))
            if not claim:
                continue
            said = int(claim[1])
            users = [
                n
                for n, (used, words) in sorted(chapters.items())
                if node.name in words and n in importers[name]
            ]
            where = f"{name}.{node.name}: says Chapter {said}"
            if users and said != users[0]:
                problems.append(f"{where}, first used in chapter {users[0]}")
            elif not users and importers[name] and said < importers[name][0]:
                problems.append(f"{where}, before its module ({importers[name][0]})")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("broken", ["module", "function"])
def test_a_stale_line_is_caught(book, broken):
    """Negative control: a planted wrong chapter number fails the checks above."""
    modules, closure, chapters = book
    planted = dict(modules)
    if broken == "module":
        planted["gradcheck"] = ast.parse('"""Introduced in Chapter 3."""')
        check = test_module_lines_name_the_chapters_that_import_them
    else:
        planted["gradcheck"] = ast.parse(
            'def check_gradients():\n    """Introduced in Chapter 2."""\n'
        )
        check = test_function_lines_name_the_chapter_that_first_uses_them
    with pytest.raises(AssertionError, match="gradcheck"):
        check((planted, closure, chapters))
