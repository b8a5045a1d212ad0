"""The Korean edition's message catalogs: extract, update, check.

Usage (from the repository root, inside the book's environment)::

    python -m booktools.translations update   # extract the English messages, merge them
                                             # into locales/ko/LC_MESSAGES/**/*.po
    python -m booktools.translations check    # exit 1 on any problem (what the tests check)
    python -m booktools.translations check locales/ko/LC_MESSAGES/chapters/05_autodiff.po

The English edition is the source. Sphinx's ``gettext`` builder cuts every
page into messages (a paragraph, a list item, a heading, a caption); a
catalog per page (``gettext_compact: false`` in ``_config.yml``) holds each
message and its Korean translation. Code cells and their outputs are not
messages: both editions show the same code and the same outputs.

``update`` re-extracts the messages and merges them into the catalogs: a
message whose English changed keeps its old translation marked *fuzzy*, a
new one is empty, a removed one is dropped. :func:`problems` then lists what
a translator must do before the Korean build may be published, and the tests
fail until it is done: every message translated and none fuzzy, and every
inline code span, math expression, link target and number of the English
message unchanged in the Korean one (``locales/ko/GLOSSARY.md`` says how to
translate the rest).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from booktools.book import ROOT, config

LOCALES = ROOT / "locales"
"""``locale_dirs`` of the Sphinx configuration: ``<language>/LC_MESSAGES/<page>.po``."""

LANGUAGES = ("ko",)
"""The translated editions (the English one is the source)."""

TEMPLATES = ROOT / "_build" / "gettext"
"""Where ``update`` extracts the English messages (``.pot`` files)."""


def catalog_dir(language: str) -> Path:
    """``locales/<language>/LC_MESSAGES``."""
    return LOCALES / language / "LC_MESSAGES"


def catalogs(language: str) -> list[Path]:
    """Every ``.po`` file of ``language``, sorted."""
    return sorted(catalog_dir(language).rglob("*.po"))


# What must survive translation unchanged. A role such as {ref}`text <target>`
# keeps its target; its text is translated.
_ROLE = re.compile(r"\{[\w:-]+\}`([^`]*)`")
_CODE = re.compile(r"``(.+?)``|`([^`]+)`")
_MATH = re.compile(r"\$\$(.+?)\$\$|(?<![\\$])\$([^$\n]+?)\$", re.DOTALL)
_LINK = re.compile(r"\]\(([^)\s]+)\)|<(https?://[^>\s]+)>")
_NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?")


def _role_targets(text: str) -> tuple[list[str], str]:
    """The targets of roles, and the text with the roles removed."""
    targets = []
    for match in _ROLE.finditer(text):
        inner = match[1]
        target = re.search(r"<([^>]+)>\s*$", inner)
        targets.append(target[1] if target else inner)
    return targets, _ROLE.sub(" ", text)


def kept_tokens(english: str) -> list[str]:
    """The code spans, math, link targets and role targets that a translation must keep."""
    roles, rest = _role_targets(english)
    math = [m[1] or m[2] for m in _MATH.finditer(rest)]
    rest = _MATH.sub(" ", rest)
    code = [m[1] or m[2] for m in _CODE.finditer(rest)]
    links = [m[1] or m[2] for m in _LINK.finditer(rest)]
    return roles + math + code + links


def numbers(text: str) -> list[str]:
    """The numbers of a message outside code and math, without digit-group commas."""
    _, rest = _role_targets(text)
    rest = _CODE.sub(" ", _MATH.sub(" ", rest))
    rest = _LINK.sub(" ", rest)
    return [n.replace(",", "") for n in _NUMBER.findall(rest)]


@dataclass
class Problem:
    catalog: Path
    line: int
    what: str
    message: str

    def __str__(self) -> str:
        inside = self.catalog.is_relative_to(ROOT)
        where = self.catalog.relative_to(ROOT) if inside else self.catalog
        return f"{where}:{self.line}: {self.what}: {self.message[:100]!r}"


def problems(path: Path) -> list[Problem]:
    """What keeps one catalog from being complete and faithful (empty: nothing)."""
    from babel.messages.pofile import read_po

    with open(path, "rb") as handle:
        catalog = read_po(handle)
    found = []
    for message in catalog:
        if not message.id:
            continue
        english, korean = str(message.id), str(message.string or "")
        line = message.lineno or 0
        if not korean:
            found.append(Problem(path, line, "not translated", english))
            continue
        if message.fuzzy:
            found.append(Problem(path, line, "fuzzy (the English changed)", english))
        for token in kept_tokens(english):
            if token not in korean:
                found.append(Problem(path, line, f"{token!r} is missing", english))
        squeezed = korean.replace(",", "")
        for number in numbers(english):
            if number not in squeezed:
                found.append(Problem(path, line, f"the number {number} is missing", english))
    return found


def extract(output: Path | None = None) -> Path:
    """Extract the English messages (one ``.pot`` per page); return their folder.

    Into :data:`TEMPLATES` by default, else into ``output/_build/gettext``
    (Sphinx's files of that build stay under ``output``).
    """
    target = TEMPLATES if output is None else Path(output) / "_build" / "gettext"
    shutil.rmtree(target, ignore_errors=True)
    command = [
        str(Path(sys.executable).parent / "jupyter-book"),
        "build",
        str(ROOT),
        "--builder",
        "custom",
        "--custom-builder",
        "gettext",
        *([] if output is None else ["--path-output", str(output)]),
        "-W",
        "-n",
        "--keep-going",
        "--quiet",
    ]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"extracting the messages failed:\n{result.stdout[-3000:]}")
    return target


def update(language: str, templates: Path = TEMPLATES) -> list[Path]:
    """Merge the extracted templates into ``language``'s catalogs; return the catalogs written.

    A catalog is created for a new page, and removed with its page. Without a
    template for the root page (``intro``) the extraction is taken to have
    failed, and nothing is written or removed.

    Raises:
        RuntimeError: no template of the root page in ``templates``.
    """
    from babel.messages.pofile import read_po, write_po

    from booktools.book import toc

    if not (templates / f"{toc()['root']}.pot").is_file():
        raise RuntimeError(
            f"no messages of the root page in {templates}: the extraction failed, "
            "so no catalog was changed (run `python -m booktools.translations update` again)"
        )
    written = []
    wanted = set()
    for template_path in sorted(templates.rglob("*.pot")):
        page = template_path.relative_to(templates).with_suffix(".po")
        target = catalog_dir(language) / page
        wanted.add(target)
        with open(template_path, "rb") as handle:
            template = read_po(handle)
        if target.is_file():
            with open(target, "rb") as handle:
                catalog = read_po(handle, locale=language)
            created = catalog.creation_date  # kept: a date in every file would change
            catalog.update(template, update_header_comment=False)  # each catalog each time
            catalog.creation_date = created
        else:
            with open(template_path, "rb") as handle:
                catalog = read_po(handle, locale=language)
        catalog.project, catalog.version = config()["title"], ""
        catalog.fuzzy = False
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".po.partial")  # a failed write leaves the catalog whole
        with open(partial, "wb") as handle:
            write_po(handle, catalog, width=0, omit_header=False, ignore_obsolete=True)
        partial.replace(target)
        written.append(target)
    for stale in set(catalogs(language)) - wanted:
        stale.unlink()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m booktools.translations", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("action", choices=("update", "check"))
    parser.add_argument("catalogs", nargs="*", type=Path, help="for check: these .po files")
    args = parser.parse_args(argv)
    if args.action == "update":
        if args.catalogs:
            parser.error("update takes no files: it updates every catalog")
        extract()
        for language in LANGUAGES:
            print(f"{language}: {len(update(language))} catalogs updated")
        return 0
    paths = [p.resolve() for p in args.catalogs] or [
        p for language in LANGUAGES for p in catalogs(language)
    ]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        parser.error(f"no such catalog: {missing[0]}")
    found = [problem for path in paths for problem in problems(path)]
    for problem in found:
        print(problem)
    print(f"{len(found)} problems in {len(paths)} catalogs")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
