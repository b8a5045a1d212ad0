"""The reference machine: where the stored outputs came from, and does this one agree?

Every chapter is stored with the outputs of one run, on one machine, and the
test suite compares every output of a fresh run with them. With
:func:`tfcustom.setup_chapter`'s pins (:data:`tfcustom.setup.PINNED_NUMERICS`),
other x86-64 CPUs compute most of the book's numbers with the same bits, but
not all of them: a few float32 kernels start from approximate instructions
that Intel and AMD implement differently, and some matrix products round
differently (``../shared/platform-runs`` and the run-times appendix list what
was measured). This module makes that visible:

- :func:`run_probes` computes a fixed set of results of the kinds the
  chapters print (matrix products, sums, element-wise functions, training
  runs of small models), and :func:`fingerprints` reduces each to a short
  hash of its bits;
- :func:`describe_machine` says what a machine is (CPU, instruction sets,
  cores, library versions, numerics);
- ``chapters/provenance.json`` (:data:`PROVENANCE_PATH`) records, for the
  machine that produced the stored outputs, both of these, and the machines
  on which the whole test suite was verified;
- :func:`probe_report` says, at the start and the end of a test run, whether
  this machine reproduces the reference probes, and which differ. It is a
  report, never a verdict: what passes or fails is the comparison of the
  chapters' outputs themselves (``tests/outputs.py``).

Used by the tests and scripts, not by the chapters; the appendix
``appendix/reproducibility.md`` explains the pinned numerics (label
``pinned-numerics``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from .book import ROOT

PROVENANCE_PATH = ROOT / "chapters" / "provenance.json"
"""Where the stored outputs came from, and that machine's probe fingerprints."""


def run_probes() -> dict[str, np.ndarray]:
    """Compute the probes: ``{name: array}``, the same inputs on every machine.

    Must run after :func:`tfcustom.setup_chapter` (or with the pins of
    :func:`tfcustom.pin_numerics` in the environment), since the point is to
    check the numerics the chapters run with. Turns on op determinism, as
    :func:`tfcustom.set_seeds` does in every chapter: without it the training
    loop probe depends on how the calling process was set up.
    """
    import keras
    import tensorflow as tf

    tf.config.experimental.enable_op_determinism()

    rng = np.random.default_rng(2024)

    def normal(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    a, b = normal(64, 64), normal(64, 64)
    deep_lhs, deep_rhs = normal(128, 256), normal(256, 32)
    features, kernel = normal(1000, 8), normal(8, 30)
    big = normal(2000, 3000)
    z = rng.uniform(-20.0, 20.0, 10_000).astype(np.float32)
    positive = rng.uniform(0.01, 100.0, 10_000).astype(np.float32)
    results = {
        "matmul_64x64": tf.matmul(a, b),
        "matmul_depth_256": tf.matmul(deep_lhs, deep_rhs),
        "matmul_1000x8_8x30": tf.matmul(features, kernel),
        "reduce_sum_6M": tf.reduce_sum(big),
        "reduce_mean_axis0": tf.reduce_mean(big, axis=0),
        "exp_log_tanh_sigmoid": tf.stack(
            [tf.exp(z / 4), tf.math.log(positive), tf.tanh(z), tf.sigmoid(z)]
        ),
        "softplus_sqrt_divide": tf.stack([tf.nn.softplus(z), tf.sqrt(positive), z / positive]),
    }

    # A regressor trained by fit() (Chapters 2-4, 6): Nadam, MSE, 2 epochs.
    X, y = normal(2000, 8), normal(2000, 1)
    keras.utils.set_random_seed(1)
    regressor = keras.Sequential(
        [keras.Input((8,)), keras.layers.Dense(30, activation="relu"), keras.layers.Dense(1)]
    )
    regressor.compile(loss="mse", optimizer="nadam")
    regressor.fit(X, y, epochs=2, batch_size=32, verbose=0)
    results["fit_regressor"] = np.concatenate([w.ravel() for w in regressor.get_weights()])

    # A classifier trained by a custom loop inside tf.function (Chapters 6-8):
    # Adam, sparse cross-entropy from logits, float64 batch normalization.
    X_cls, y_cls = normal(96, 64), rng.integers(0, 5, 96).astype(np.int32)
    keras.utils.set_random_seed(2)
    classifier = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.BatchNormalization(momentum=0.9, dtype="float64"),
            keras.layers.Dense(5),
        ]
    )
    optimizer = keras.optimizers.Adam(0.01)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def step(X_batch, y_batch):
        with tf.GradientTape() as tape:
            loss = loss_fn(y_batch, classifier(X_batch, training=True))
        grads = tape.gradient(loss, classifier.trainable_variables)
        optimizer.apply_gradients(zip(grads, classifier.trainable_variables, strict=True))

    for _ in range(10):
        for start in range(0, 96, 16):
            step(X_cls[start : start + 16], y_cls[start : start + 16])
    results["loop_classifier"] = np.concatenate(
        [np.asarray(w, dtype=np.float64).ravel() for w in classifier.get_weights()]
    )
    return {name: np.asarray(value) for name, value in results.items()}


def fingerprints(results: dict[str, np.ndarray]) -> dict[str, str]:
    """A 16-hex-digit hash of each result's dtype, shape and bits."""
    out = {}
    for name, value in results.items():
        value = np.ascontiguousarray(value)
        digest = hashlib.sha256(f"{value.dtype.str}{value.shape}".encode())
        digest.update(value.tobytes())
        out[name] = digest.hexdigest()[:16]
    return out


def load_provenance(path: Path = PROVENANCE_PATH) -> dict:
    """The provenance record: ``{"reference": {...}, "chapters": {...}}``.

    Raises:
        FileNotFoundError: no record at ``path``.
        ValueError: the file is not a provenance record.
    """
    data = json.loads(Path(path).read_text())
    if not isinstance(data, dict) or not {"reference", "chapters"} <= data.keys():
        raise ValueError(f"{path} is not a provenance record (no 'reference' and 'chapters')")
    return data


def differing_probes(reference: dict[str, str], current: dict[str, str]) -> list[str]:
    """The names of the probes whose fingerprints differ (or exist on one side only)."""
    return sorted(
        name
        for name in reference.keys() | current.keys()
        if reference.get(name) != current.get(name)
    )


# What each probe stands for in the chapters, for the report.
STANDS_FOR = {
    "matmul": "matrix products, as in every Dense layer (chapters 2-10)",
    "reduce": "losses, metrics and statistics (chapters 1-9)",
    "exp": "activations and losses (chapters 2-10)",
    "softplus": "activations and losses (chapters 2-10)",
    "fit": "training with fit() (chapters 2-4, 6, 7)",
    "loop": "the custom training loops (chapters 6-8)",
}


def machine_summary(machine: dict) -> str:
    """One line: CPU, instruction sets, cores, releases and numerics of a machine."""
    numerics = machine["numerics"]
    return (
        f"{machine['cpu']} ({machine['instruction_sets']}, {machine['logical_cpus']} "
        f"logical CPUs), TensorFlow {machine['tensorflow']}, Keras {machine['keras']}, "
        f"Python {machine['python']}, numerics: "
        f"{'pinned' if isinstance(numerics, dict) else numerics}"
    )


def probe_report(
    reference: dict, here: dict[str, str], machine: dict, *, portable: bool = False
) -> list[str]:
    """Lines saying whether this machine reproduces the reference probes, and which differ.

    Args:
        reference: the ``"reference"`` entry of the provenance record
            (``{"machine": ..., "fingerprints": ...}``).
        here: this machine's :func:`fingerprints`.
        machine: this machine's :func:`describe_machine`.
        portable: the run does not compare ``platform-dependent`` cells
            (``--portable``), which the report then says instead.

    The report predicts nothing: a probe that differs in its last bit may or
    may not change a printed digit. It tells a reader whose run shows
    tolerated differences (or failures) where they come from.
    """
    differ = differing_probes(reference["fingerprints"], here)
    lines = [
        f"this machine:       {machine_summary(machine)}",
        f"reference machine:  {machine_summary(reference['machine'])}",
    ]
    if not differ:
        lines.append(
            f"probes: all {len(here)} reproduce the reference bit for bit, so the "
            "chapters' outputs should match the stored ones digit for digit"
        )
        return lines
    lines.append(
        f"probes: {len(differ)} of {len(reference['fingerprints'])} differ from the "
        f"reference in their bits: {', '.join(differ)}"
    )
    affected = sorted(
        {why for name in differ for key, why in STANDS_FOR.items() if name.startswith(key)}
    )
    lines += [f"  they compute {why}" for why in affected]
    lines.append(
        "  cells tagged platform-dependent are not compared (portable mode)"
        if portable
        else "  cells tagged platform-dependent are then compared number by number within "
        "their tolerance, and every tolerated difference is listed at the end"
    )
    if not isinstance(machine["numerics"], dict):
        lines.append(
            "  the pins are off here (BOOK_PIN_NUMERICS=0): unset it to compute as "
            "the reference machine did"
        )
    return lines


PROVENANCE_BEGIN = "<!-- provenance: written by booktools/run_notebooks.py -->"
PROVENANCE_END = "<!-- end of provenance -->"


def _machine_line(machine: dict) -> str:
    numerics = machine["numerics"]
    pins = (
        ", ".join(f"`{k}={v}`" for k, v in numerics.items())
        if isinstance(numerics, dict)
        else str(numerics)
    )
    return (
        f"{machine['cpu']} ({machine['vendor']}; {machine['instruction_sets']}; "
        f"{machine['logical_cpus']} logical CPUs), {machine['os']}, Python "
        f"{machine['python']}, TensorFlow {machine['tensorflow']}, Keras "
        f"{machine['keras']}; numerics: {pins}"
    )


def provenance_markdown(provenance: dict) -> str:
    """The appendix section that says where the stored outputs were produced."""
    reference = provenance["reference"]
    lines = [
        PROVENANCE_BEGIN,
        "## Where the stored outputs were produced",
        "",
        "Every output stored in the chapters comes from one run on the machine below "
        "(`chapters/provenance.json` holds the same, for programs). At the start and the "
        "end of every test run, the suite computes a few reference results (the probes) "
        "on the machine that runs it and says whether their bits match the fingerprints "
        "recorded here. That is a report, not a verdict: what passes or fails is the "
        "comparison of every stored output with a fresh run (see the README's "
        "*Deterministic outputs*).",
        "",
        f"- **Reference machine:** {_machine_line(reference['machine'])}",
        "- **Fingerprints:** "
        + ", ".join(f"{name} `{value}`" for name, value in reference["fingerprints"].items()),
    ]
    others = {
        name: machine
        for name, machine in provenance["chapters"].items()
        if machine != reference["machine"]
    }
    if others:
        lines.append("- **Chapters produced elsewhere:**")
        lines += [f"  - {name}: {_machine_line(machine)}" for name, machine in others.items()]
    else:
        lines.append(
            f"- **Chapters:** all {len(provenance['chapters'])} were produced on "
            "the reference machine."
        )
    verified = provenance.get("verified", [])
    if verified:
        lines += [
            "",
            "### Machines the whole test suite was verified on",
            "",
            "Each item is one full run of `./scripts/test` (every test, every chapter, "
            "outputs compared) that passed, recorded by the run itself "
            "(`./scripts/test --record-verification`) unless it names another source. "
            "*Probes that differ* are those whose bits differ from the reference "
            "machine's; *tolerated* counts the numbers in `platform-dependent` cells "
            "that differed within their tolerance.",
            "",
        ]
        for run in verified:
            lines.append(
                f"- **{run['date']}**, {run['cpu']} ({run['vendor']}; "
                f"{run['instruction_sets']}; {run['logical_cpus']} logical CPUs), "
                f"TensorFlow {run['tensorflow']}, Keras {run['keras']}: "
                f"{run['passed']} tests passed, {run['tolerated']} tolerated; probes that "
                f"differ: {', '.join(run['probes_that_differ']) or 'none'}."
                + (f" Source: {run['source']}." if run.get("source") else "")
            )
    lines += ["", PROVENANCE_END]
    return "\n".join(lines)


def record_verification(
    provenance: dict, machine: dict, differ: list[str], passed: int, tolerated: int, date: str
) -> dict:
    """``provenance`` with this machine's passing full run recorded (the newest per machine).

    A machine is its CPU, vendor, instruction sets, logical CPUs, releases and
    numerics: a later run on the same kind of machine replaces the earlier one.
    """
    run = {
        "date": date,
        **{
            key: machine[key]
            for key in (
                "cpu",
                "vendor",
                "instruction_sets",
                "logical_cpus",
                "python",
                "tensorflow",
                "keras",
                "numerics",
            )
        },
        "probes_that_differ": list(differ),
        "passed": passed,
        "tolerated": tolerated,
    }
    same = {
        k: v
        for k, v in run.items()
        if k not in ("date", "probes_that_differ", "passed", "tolerated")
    }
    kept = [old for old in provenance.get("verified", []) if {k: old.get(k) for k in same} != same]
    return {**provenance, "verified": sorted([*kept, run], key=lambda r: (r["date"], r["cpu"]))}


def replace_provenance_section(page: str, provenance: dict) -> str:
    """``page`` with its provenance section replaced by a current one.

    Raises:
        ValueError: the page has no provenance section.
    """
    start, end = page.find(PROVENANCE_BEGIN), page.find(PROVENANCE_END)
    if start < 0 or end < start:
        raise ValueError("the page has no provenance section to replace")
    return page[:start] + provenance_markdown(provenance) + page[end + len(PROVENANCE_END) :]
