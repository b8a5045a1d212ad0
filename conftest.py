"""Shared fixtures and the two test modes of the book (for tests/ and chapters/).

This file sits at the repository's root so that it applies to the notebooks
too, and so that pytest puts the root on ``sys.path`` (``pythonpath = .`` in
``pytest.ini`` says so too): ``import booktools`` and ``import tests`` work
from any test, with ``pytest`` as with ``python -m pytest``. The reader's
package, ``tfcustom``, is installed (``pip install -e .``).

**Default** (``./scripts/test``, and CI): every stored output of every
chapter is compared with a fresh run. Outputs of cells not tagged
``platform-dependent`` are compared text for text on every machine. Outputs
of cells tagged ``platform-dependent`` (a trained loss, a score, the setup
cell's report of the machine) are compared text for text too, and where
they differ, number by number within the cell's tolerance, counted in units
of the last printed digit (``tests/outputs.py`` says how). Every tolerated
difference is listed at the end of the run.

At the start and at the end of a run that executes chapters, the suite says
whether this machine reproduces the reference machine's probes
(``booktools/reference.py``), and which differ. That is a report: it never
stops a run, since only the comparison of the outputs decides.

**Portable** (``./scripts/test --portable``): for another TensorFlow or
Keras release, or the pins switched off (``BOOK_PIN_NUMERICS=0``), where the
setup cell's versions and the trained numbers legitimately differ by more
than a last digit. Every chapter still runs top to bottom with all of its
asserts, but outputs of cells tagged ``platform-dependent`` are not compared.
"""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
from pathlib import Path

import pytest
from tfcustom.setup import numerics_pinned, pin_numerics

from booktools.book import ROOT, use_default_data_dir
from booktools.editions import build_korean
from tests.outputs import PLATFORM_TAG, cell_tolerance, compare_outputs, flatten

# TensorFlow reads the pins once, at its first import, which may come from any
# test module: pin before any of them is collected.
if numerics_pinned():
    pin_numerics()

MIRROR = use_default_data_dir()
"""The offline data folder the chapters read (``None``: scikit-learn downloads)."""

PROBES = pytest.StashKey[dict]()
"""This run's probe comparison: {"reference", "here", "machine", "lines"} or {"error"}."""

TOLERATED = pytest.StashKey[list]()
"""(cell, tolerance, differences) for every platform-dependent cell that differed within it."""


def pytest_addoption(parser):
    parser.addoption(
        "--portable",
        action="store_true",
        help="portable mode: run every chapter and assert, but do not compare outputs "
        f"of cells tagged {PLATFORM_TAG} (for another TensorFlow or Keras release, or "
        "the pins off)",
    )
    parser.addoption(
        "--book-provenance",
        type=Path,
        default=None,
        help="the provenance record whose reference fingerprints the probe report "
        "compares with (default: chapters/provenance.json; tests hand it a changed one)",
    )
    parser.addoption(
        "--record-verification",
        action="store_true",
        help="after a full run that passes, record this machine in "
        "chapters/provenance.json and the run-times appendix",
    )


def portable(config) -> bool:
    return bool(config.getoption("--portable"))


def pytest_configure(config):
    config.stash[TOLERATED] = []


def runs_chapters(config) -> bool:
    """Whether this run collects notebooks (so the probe report is worth its seconds)."""
    for arg in config.args:
        path = Path(arg.split("::")[0]).resolve()
        if path.suffix == ".ipynb" or (
            path.is_dir()
            and (
                (path / "chapters").is_dir()
                or any(path.glob("*.ipynb"))
                or path.is_relative_to(ROOT / "chapters")
            )
        ):
            return True
    return False


def probe_comparison(config) -> dict:
    """Compute this machine's probes once per run and compare them with the reference."""
    if PROBES not in config.stash:
        from tfcustom.machine import describe_machine
        from tfcustom.setup import quiet_tensorflow

        from booktools.reference import (
            PROVENANCE_PATH,
            fingerprints,
            load_provenance,
            probe_report,
            run_probes,
        )

        quiet_tensorflow()
        path = config.getoption("--book-provenance") or PROVENANCE_PATH
        try:
            reference = load_provenance(path)["reference"]
            here = fingerprints(run_probes())
            machine = describe_machine()
            config.stash[PROBES] = {
                "reference": reference,
                "here": here,
                "machine": machine,
                "lines": probe_report(reference, here, machine, portable=portable(config)),
            }
        except Exception as error:  # a report must never stop the run
            config.stash[PROBES] = {"error": f"{type(error).__name__}: {error}"}
    return config.stash[PROBES]


def _probe_lines(config) -> list[str]:
    comparison = probe_comparison(config)
    if "error" in comparison:
        return [f"probes: could not be computed ({comparison['error']})"]
    return comparison["lines"]


def pytest_report_header(config):
    if portable(config):
        mode = [
            "book test mode: PORTABLE: every chapter runs with all its asserts; outputs of "
            f"cells tagged {PLATFORM_TAG} are not compared (for another TensorFlow or "
            "Keras release, or the pins off)"
        ]
    else:
        mode = [
            "book test mode: DEFAULT: every stored output is compared with a fresh run; "
            f"cells tagged {PLATFORM_TAG} text for text, or else number by number "
            "within their tolerance (tolerated differences are listed at the end)"
        ]
    if not runs_chapters(config):
        return [*mode, "probes: not computed (no chapter in this run)"]
    return [*mode, *_probe_lines(config)]


def _tolerant(item, strict):
    """``item.compare_outputs`` for a platform-dependent cell: strict, or else within tolerance."""
    from nbval.plugin import transform_streams_for_comparison

    def compare(test, ref, skip_compare=None):
        if strict(test, ref, skip_compare):
            return True
        strict_traceback = list(item.comparison_traceback)
        try:
            tolerance = cell_tolerance(item.cell.metadata)
        except ValueError as error:
            item.comparison_traceback = [*strict_traceback, str(error)]
            return False
        skip = skip_compare or item.parent.skip_compare
        stored, got = (
            flatten(transform_streams_for_comparison(outputs), skip, item.sanitize)
            for outputs in (ref, test)
        )
        verdict = compare_outputs(stored, got, tolerance)
        if verdict.ok:
            item.config.stash[TOLERATED].append((item.nodeid, tolerance, verdict.differences))
            return True
        item.comparison_traceback = [
            *strict_traceback,
            f"{PLATFORM_TAG} cell, compared number by number too: {verdict.reason}",
        ]
        return False

    return compare


class RunAllAgain(pytest.Item):
    """Run every cell of a notebook a second time in the kernel nbval just ran it in.

    A reader's Restart & Run All, then Run All again, must not fail: names
    that Keras numbers per session, files left by the first run, counters
    that only grow. Only errors fail this item (outputs may legitimately
    change, e.g. a layer's automatic name); cells tagged ``raises-exception``
    are expected to raise again.
    """

    def runtest(self):
        kernel = self.parent.kernel
        timeout = self.config.option.nbval_cell_timeout
        failures = []
        for number, cell in enumerate(self.parent.nb.cells):
            if cell.cell_type != "code":
                continue
            msg_id = kernel.execute_cell_input(cell.source, allow_stdin=False)
            error = None
            while True:  # iopub: the cell's outputs, until the kernel is idle
                msg = kernel.get_message(stream="iopub", timeout=timeout)
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                if msg["msg_type"] == "error":
                    content = msg["content"]
                    error = f"{content['ename']}: {content['evalue']}"
                    error += "".join(f"\n    {line}" for line in content["traceback"][1:8])
                elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                    break
            kernel.await_reply(msg_id, timeout=timeout)
            expected = "raises-exception" in cell.metadata.get("tags", [])
            if error and not expected:
                failures.append(f"cell {number} of the notebook raised {error}")
            elif expected and not error:
                failures.append(f"cell {number} is tagged raises-exception but did not raise")
        if failures:
            raise AssertionError(
                "running every cell again in the same kernel (Run All twice) failed:\n"
                + "\n".join(failures)
            )

    def reportinfo(self):
        return self.path, 0, f"{self.path.name}::Run all again"


@pytest.hookimpl(trylast=True)  # after -k and --deselect have chosen the items
def pytest_collection_modifyitems(session, config, items):
    for item in items:
        cell = getattr(item, "cell", None)
        if cell is None or PLATFORM_TAG not in cell.get("metadata", {}).get("tags", []):
            continue
        if portable(config):
            item.options["check"] = False
        else:
            item.compare_outputs = _tolerant(item, item.compare_outputs)
    # After the last cell of every notebook run whole, run it all again.
    by_notebook: dict = {}
    for index, item in enumerate(items):
        if getattr(item, "cell", None) is not None:
            by_notebook.setdefault(item.parent, []).append(index)
    for notebook, indices in sorted(by_notebook.items(), key=lambda kv: -kv[1][-1]):
        code_cells = sum(1 for cell in notebook.nb.cells if cell.cell_type == "code")
        if len(indices) == code_cells and indices == list(range(indices[0], indices[-1] + 1)):
            again = RunAllAgain.from_parent(notebook, name="Run all again")
            again.add_marker(pytest.mark.slow)  # collected after the -m selection ran
            items.insert(indices[-1] + 1, again)


MODULE_MARKERS = {
    "test_browser.py": ("browser", "slow"),
    "test_pdf.py": ("pdf", "slow"),
    # Every test of these starts Python processes or executes notebooks:
    "test_benchmark.py": ("slow",),
    "test_new_chapter.py": ("slow",),
    "test_platform_outputs.py": ("slow",),
    "test_rerun.py": ("slow",),
}
"""Markers given to every test of a module (see :func:`pytest_itemcollected`)."""

SLOW_FIXTURES = frozenset({"built_book"})
"""Fixtures that make a test slow: building the HTML book takes minutes."""


def pytest_itemcollected(item):
    """Mark the slow tiers, so that ``-m "not slow"`` is the fast loop.

    ``slow``: every chapter cell (nbval executes the chapters), every test of
    a module in :data:`MODULE_MARKERS` or using a fixture in
    :data:`SLOW_FIXTURES`, and tests marked ``@pytest.mark.slow`` one by one;
    ``browser`` and ``pdf``: the tests of the browser and the PDF edition.
    Markers are added as each item is collected, before ``-m`` selects.
    """
    if getattr(item, "cell", None) is not None:
        item.add_marker(pytest.mark.slow)
        return
    for name in MODULE_MARKERS.get(item.path.name, ()):
        item.add_marker(getattr(pytest.mark, name))
    if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
        item.add_marker(pytest.mark.slow)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    tolerated = config.stash[TOLERATED]
    if not runs_chapters(config) and not tolerated:
        return
    terminalreporter.section("the book on this machine")
    for line in _probe_lines(config):
        terminalreporter.line(line)
    numbers = sum(len(d) for _, _, d in tolerated)
    if tolerated:
        terminalreporter.line(
            f"tolerated differences: {numbers} in {len(tolerated)} platform-dependent "
            "cell(s) (stored -> got):"
        )
        for nodeid, tolerance, differences in tolerated:
            terminalreporter.line(f"  {nodeid} (tolerance: {tolerance})")
            for difference in differences:
                if tolerance == "describes-machine":
                    terminalreporter.line(f"    stored: {difference.stored.strip()!r}")
                    terminalreporter.line(f"    got:    {difference.got.strip()!r}")
                else:
                    terminalreporter.line(f"    {difference}")
    elif runs_chapters(config) and not portable(config):
        terminalreporter.line("tolerated differences: none (every output matched digit for digit)")
    if config.getoption("--record-verification"):
        terminalreporter.line(_record_verification(terminalreporter, exitstatus, config, numbers))


def _record_verification(terminalreporter, exitstatus, config, tolerated: int) -> str:
    """Record a passing full run in the provenance file; return what was done."""
    from booktools.reference import (
        PROVENANCE_PATH,
        differing_probes,
        load_provenance,
        record_verification,
        replace_provenance_section,
    )

    stats = terminalreporter.stats
    full = (
        config.args_source == pytest.Config.ArgsSource.TESTPATHS
        and not stats.get("deselected")
        and not portable(config)
        and config.getoption("--book-provenance") is None
    )
    if exitstatus != 0 or not full:
        return (
            "verification not recorded: only a full default run that passes is "
            "(./scripts/test --record-verification, with no paths, -k or --portable)"
        )
    comparison = probe_comparison(config)
    if "error" in comparison:
        return f"verification not recorded: the probes failed ({comparison['error']})"
    provenance = record_verification(
        load_provenance(),
        comparison["machine"],
        differing_probes(comparison["reference"]["fingerprints"], comparison["here"]),
        passed=len(stats.get("passed", [])),
        tolerated=tolerated,
        date=datetime.date.today().isoformat(),
    )
    PROVENANCE_PATH.write_text(json.dumps(provenance, indent=2, ensure_ascii=False) + "\n")
    appendix = ROOT / "appendix" / "run_times.md"
    appendix.write_text(replace_provenance_section(appendix.read_text(), provenance))
    written = f"{PROVENANCE_PATH.relative_to(ROOT)} and {appendix.relative_to(ROOT)}"
    return f"verification recorded in {written}"


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def portable_mode(request) -> bool:
    return portable(request.config)


@pytest.fixture(scope="session")
def mirror_dir() -> Path:
    """The folder of the offline housing mirror (see README, "Offline data")."""
    if MIRROR is None or not (MIRROR / "cal_housing.data.gz").is_file():
        pytest.fail(
            f"the offline mirror {MIRROR or '../shared/data'}/cal_housing.data.gz is missing; "
            "set BOOK_DATA_DIR (the README's 'Offline data' section says how)"
        )
    return MIRROR


@pytest.fixture(scope="session")
def built_book(tmp_path_factory) -> Path:
    """Build the HTML book (both editions: English, and Korean in ko/) once per test run,
    with Sphinx warnings as errors.

    Returns the folder of the HTML pages. The build renders the notebooks'
    stored outputs (execution is off), so what nbval checked is what readers get.
    """
    out = tmp_path_factory.mktemp("book")
    jb = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run(
        [
            str(jb),
            "build",
            str(ROOT),
            "--builder",
            "html",
            "--path-output",
            str(out),
            "-W",
            "-n",
            "--keep-going",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"the book build failed:\n{log[-6000:]}"
    assert "WARNING" not in log, f"the book build warned:\n{log[-6000:]}"
    html = out / "_build" / "html"
    build_korean(html)  # html/ko, warnings as errors too (booktools/editions.py)
    return html
