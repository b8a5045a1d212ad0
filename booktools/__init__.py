"""The maintainer's package: how the book is built, executed, checked and measured.

Readers never import it; the chapters import only ``tfcustom`` (the
``utils/`` folder). Run its tools from the repository's root, inside the
book's environment, as ``python -m booktools.<tool>``:

- :mod:`booktools.run_notebooks`: execute chapters in place (``--check``,
  ``--normalise``, ``--setup-cells`` without executing);
- :mod:`booktools.benchmark` and :mod:`booktools.measure_run_times`: the
  speed tables and the run-times appendix;
- :mod:`booktools.check_robustness` and :mod:`booktools.audit_cpu_ops`: the
  chapters under other seeds and the other CPU vendor's arithmetic;
- :mod:`booktools.translations` and :mod:`booktools.editions`: the Korean
  edition's message catalogs, and its build into ``_build/html/ko``;
- :mod:`booktools.build_pdf`, :mod:`booktools.gather_keras3_notes`,
  :mod:`booktools.new_chapter` and :mod:`booktools.release`.

The rest is what those tools and the tests share: :mod:`booktools.book`
(the only reader of ``_config.yml``, ``_toc.yml``, the chapter list and the
offline data folder), :mod:`booktools.notebooks` (the canonical form and the
setup cell), :mod:`booktools.reference` and :mod:`booktools.provenance`
(the reference machine), and :mod:`booktools.cli` (checked arguments).
"""
