"""Build the Korean edition beside the English one: ``_build/html/ko``.

``./scripts/build-book`` builds the English edition into ``_build/html``
with ``jupyter-book build``, then calls :func:`build_korean`, which builds
the same book again with the settings of ``locales/ko/config.yml`` merged
over ``_config.yml`` (``language: ko``, the Korean title and footer), the
table of contents with Korean part captions (:func:`korean_toc`), and the
message catalogs of ``locales/ko/LC_MESSAGES`` (Sphinx compiles them),
and puts the pages under the English site's ``ko/`` folder. The two
editions share the notebooks, so code and outputs are identical; only the
prose differs. Sphinx warnings are errors, as for the English edition.

Usage (from the repository root)::

    python -m booktools.editions _build/html    # the Korean edition into _build/html/ko
"""

from __future__ import annotations

import argparse
import copy
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from booktools.book import ROOT, config
from booktools.book import toc as book_toc

KOREAN_SETTINGS = ROOT / "locales" / "ko" / "config.yml"
"""What the Korean edition sets differently from ``_config.yml``."""


def merged(base: dict, override: dict) -> dict:
    """``base`` with ``override``'s values, merged key by key in nested mappings."""
    result = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


def korean_config() -> dict:
    """``_config.yml`` with ``locales/ko/config.yml`` merged over it.

    Jupyter Book reads the paths of its own settings (local extensions, the
    favicon) from the configuration file's folder, which is not the root
    here: they are made absolute.
    """
    settings = merged(config(), yaml.safe_load(KOREAN_SETTINGS.read_text(encoding="utf-8")))
    sphinx = settings.get("sphinx", {})
    for name, folder in sphinx.get("local_extensions", {}).items():
        sphinx["local_extensions"][name] = str(ROOT / folder)
    html = settings.get("html", {})
    for key in ("favicon", "logo"):
        if html.get(key):
            html[key] = str(ROOT / html[key])
    return settings


def korean_toc() -> dict:
    """``_toc.yml`` with its part captions in Korean, from the root page's catalog.

    Sphinx extracts the captions with the root page's messages, but does not
    apply their translations to the table of contents that
    sphinx-external-toc builds: the Korean edition gets a table of contents
    of its own, made from the same catalog.

    Raises:
        ValueError: a caption has no translation yet.
    """
    from babel.messages.pofile import read_po

    from booktools.translations import catalog_dir

    toc = copy.deepcopy(book_toc())
    with open(catalog_dir("ko") / f"{toc['root']}.po", "rb") as handle:
        korean = {m.id: m.string for m in read_po(handle) if m.id and m.string}
    for part in toc.get("parts", []):
        caption = part.get("caption")
        if caption not in korean:
            raise ValueError(f"the part caption {caption!r} has no Korean translation")
        part["caption"] = korean[caption]
    return toc


def build_korean(html: Path, extra_args: list[str] | None = None) -> Path:
    """Build the Korean edition into ``html/ko`` (replacing it); return that folder.

    Raises:
        RuntimeError: the build failed or warned (its log is in the message).
    """
    html = Path(html)
    target = html / "ko"
    with tempfile.TemporaryDirectory(prefix="ko-", dir=ROOT / "_build") as tmp:
        settings = ROOT / "_build" / f"{Path(tmp).name}.yml"
        settings.write_text(yaml.safe_dump(korean_config(), allow_unicode=True), "utf-8")
        toc = ROOT / "_build" / f"{Path(tmp).name}-toc.yml"
        toc.write_text(yaml.safe_dump(korean_toc(), allow_unicode=True), "utf-8")
        command = [
            str(Path(sys.executable).with_name("jupyter-book")),
            "build",
            str(ROOT),
            "--config",
            str(settings),
            "--toc",
            str(toc),
            "--builder",
            "html",
            "--path-output",
            tmp,
            "-W",
            "-n",
            "--keep-going",
            *(extra_args or []),
        ]
        try:
            result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        finally:
            settings.unlink()
            toc.unlink()
        log = result.stdout + result.stderr
        if result.returncode != 0 or "WARNING" in log:
            raise RuntimeError(f"the Korean edition's build failed or warned:\n{log[-6000:]}")
        shutil.rmtree(target, ignore_errors=True)
        shutil.move(str(Path(tmp) / "_build" / "html"), target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m booktools.editions", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("html", type=Path, help="the English edition's folder, e.g. _build/html")
    parser.add_argument("jupyter_book_args", nargs="*", help="passed on to jupyter-book build")
    args = parser.parse_args(argv)
    if not (args.html / "index.html").is_file():
        parser.error(f"{args.html} holds no built English edition (no index.html)")
    try:
        target = build_korean(args.html, args.jupyter_book_args)
    except RuntimeError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"== the Korean edition is in {target}/index.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
