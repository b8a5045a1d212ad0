"""Read a TensorFlow profiler trace in Python: where each step's time went.

Chapter 10 (Where the time goes) profiles a few training steps, eager and
through ``tf.function``, and reads the trace file itself instead of a
screenshot of TensorBoard. The profiler writes one ``XSpace`` protocol buffer
per session, ``<logdir>/plugins/profile/<timestamp>/<host>.xplane.pb``: a
*plane* per device (``/host:CPU`` here), a *line* per thread, and on each line
timed *events* (a name, a start, a duration in picoseconds) that nest.

:func:`profile_steps` records a trace, :func:`load_trace` reads its host
events and gives each one a kind, :func:`step_profiles` splits every step
marked with ``tf.profiler.experimental.Trace("train", step_num=...)`` into
the time spent in Python, in TensorFlow's runtime and in kernels. What the
kinds mean, on a CPU with TensorFlow 2.19 to 2.21:

* ``"eager op"``: an ``EagerExecute`` event of one operation run from Python
  (its ``is_func`` stat is 0);
* ``"graph call"``: an ``EagerExecute`` event that runs a whole graph, a
  ``tf.function`` (``is_func`` is 1);
* ``"kernel"``: an eager operation's ``KernelAndDeviceFunc::Run`` (the op's
  work, plus the few microseconds of bookkeeping of the small function each
  eager op runs as, so an upper bound on its kernel's time), or a graph
  node's event, ``"name:OpType"``, directly inside an executor's
  ``ExecutorState::Process``.

Importing this module does not import TensorFlow; its functions do.

Introduced in Chapter 10.
"""

from __future__ import annotations

import collections
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from .checks import check_int

STEP_MARKER = "train"
"""The name of the ``Trace`` event that marks one step in :func:`profile_steps`."""

KINDS = ("eager op", "graph call", "kernel")
"""The kinds of event :func:`load_trace` tells apart (see the module's docstring)."""


@dataclass(frozen=True)
class Event:
    """One timed event of a trace, on the clock of the whole trace.

    Attributes:
        name: the event's name, e.g. ``"EagerExecute"`` or ``"dense/MatMul:MatMul"``.
        start_ps: its start, in picoseconds.
        end_ps: its end, in picoseconds.
        kind: one of :data:`KINDS`, or None for every other event.
        op: the operation's type for kernels (``"MatMul"``), else "".
    """

    name: str
    start_ps: int
    end_ps: int
    kind: str | None = None
    op: str = ""


@dataclass(frozen=True)
class StepProfile:
    """Where one step's wall time went, in microseconds; the three parts add up.

    Attributes:
        wall_us: the step's wall time (its marker's duration).
        python_us: time outside every eager op and graph call: Python code
            (Keras, the tape, the optimizer's Python) and the binding's glue.
        runtime_us: time inside eager ops and graph calls but not in kernels:
            TensorFlow's dispatch, placement checks, the executor.
        kernel_us: time inside kernels (counted once where kernels overlap).
        eager_ops: operations run one by one from Python.
        graph_calls: whole graphs run.
        kernels: kernels run (one per eager op; in a graph, one per node).
    """

    wall_us: float
    python_us: float
    runtime_us: float
    kernel_us: float
    eager_ops: int
    graph_calls: int
    kernels: int

    @property
    def outside_kernels(self) -> float:
        """The share of the step's wall time not spent in kernels."""
        return 1.0 - self.kernel_us / self.wall_us if self.wall_us else 0.0


def profile_steps(step: Callable[[], object], logdir: str | Path, steps: int = 5) -> Path:
    """Call ``step()`` once untimed, then ``steps`` times under the profiler.

    Each profiled call is marked as a step (a ``Trace`` named
    :data:`STEP_MARKER` with its ``step_num``), which is what
    :func:`step_profiles` splits the trace by and what TensorBoard's profile
    plugin shows as steps. The first call happens before the profiler
    starts, so tracing a ``tf.function`` and creating an optimizer's
    variables stay out of the trace. ``logdir`` must not hold an earlier
    trace (use a fresh folder).

    Returns:
        The ``.xplane.pb`` file written.

    Raises:
        ValueError: ``steps`` is not an int >= 1, or ``logdir`` already holds
            a trace.
    """
    import tensorflow as tf

    steps = check_int("steps", steps, minimum=1)
    logdir = Path(logdir)
    if list(logdir.glob("plugins/profile/*/*.xplane.pb")):
        raise ValueError(f"{logdir} already holds a trace: give a fresh folder")
    step()
    with tf.profiler.experimental.Profile(str(logdir)):  # stops even on errors
        for number in range(steps):
            with tf.profiler.experimental.Trace(STEP_MARKER, step_num=number, _r=1):
                step()
    return trace_file(logdir)


def trace_file(logdir: str | Path) -> Path:
    """The one ``.xplane.pb`` file under ``logdir``.

    Raises:
        FileNotFoundError: there is none.
        ValueError: there are several (several profiles in one folder).
    """
    found = sorted(Path(logdir).glob("plugins/profile/*/*.xplane.pb"))
    if not found:
        raise FileNotFoundError(f"no profiler trace (*.xplane.pb) under {logdir}")
    if len(found) > 1:
        raise ValueError(f"{len(found)} traces under {logdir}: give each profile its own folder")
    return found[0]


def _xplane_pb2():
    try:
        from tensorflow.tsl.profiler.protobuf import xplane_pb2
    except ImportError:  # pragma: no cover - other packagings of TSL
        from tsl.profiler.protobuf import xplane_pb2
    return xplane_pb2


def load_trace(path: str | Path) -> list[Event]:
    """Read the host (CPU) events of an ``.xplane.pb`` file and give each a kind.

    Events nest within a thread's line: the function walks each line in
    start order with a stack of the events still open, which tells it each
    event's parent, and whether it lies inside a graph call (the ``is_func``
    stat of the enclosing ``EagerExecute``).

    Returns:
        The events of every thread, in start order.

    Raises:
        ValueError: the file holds no ``/host:CPU`` plane.
    """
    xplane_pb2 = _xplane_pb2()
    space = xplane_pb2.XSpace.FromString(Path(path).read_bytes())
    planes = [p for p in space.planes if p.name == "/host:CPU"]
    if not planes:
        raise ValueError(f"{path} holds no /host:CPU plane")
    plane = planes[0]
    stat_names = {key: meta.name for key, meta in plane.stat_metadata.items()}
    events = []
    for line in plane.lines:
        open_events = []  # (end, name, inside a graph call) of the enclosing events
        ordered = sorted(line.events, key=lambda e: (e.offset_ps, -e.duration_ps))
        for raw in ordered:
            start = line.timestamp_ns * 1000 + raw.offset_ps
            end = start + raw.duration_ps
            while open_events and open_events[-1][0] <= start:
                open_events.pop()
            parent, in_graph = open_events[-1][1:] if open_events else ("", None)
            name = plane.event_metadata[raw.metadata_id].name
            stats = {stat_names.get(s.metadata_id): s.int64_value for s in raw.stats}
            in_graph = bool(stats["is_func"]) if "is_func" in stats else in_graph
            kind, op = None, ""
            if name == "EagerExecute":
                kind = "graph call" if in_graph else "eager op"
            elif name == "KernelAndDeviceFunc::Run" and in_graph is False:
                kind = "kernel"
            elif parent == "ExecutorState::Process" and ":" in name.replace("::", ""):
                kind, op = "kernel", name.rsplit(":", 1)[1]
            events.append(Event(name, start, end, kind, op))
            open_events.append((end, name, in_graph))
    events.sort(key=lambda e: (e.start_ps, -e.end_ps))
    return _name_eager_kernels(events)


def _name_eager_kernels(events: list[Event]) -> list[Event]:
    """Give each eager kernel the op type of its ``EagerLocalExecute: Op`` event."""
    named, last_op = [], ""
    for event in events:
        if event.name.startswith("EagerLocalExecute: "):
            last_op = event.name.removeprefix("EagerLocalExecute: ")
        if event.kind == "kernel" and not event.op:
            event = Event(event.name, event.start_ps, event.end_ps, event.kind, last_op)
        named.append(event)
    return named


def busy_ps(intervals: Iterable[tuple[int, int]]) -> int:
    """The length of the union of ``[start, end)`` intervals.

    Nested or overlapping intervals count once: two kernels that ran at the
    same time on two threads add their union, not their sum.
    """
    total = reached = 0
    for start, end in sorted(intervals):
        total += max(0, end - max(start, reached))
        reached = max(reached, end)
    return total


def step_profiles(events: list[Event], marker: str = STEP_MARKER) -> list[StepProfile]:
    """Split the trace by its step markers; one :class:`StepProfile` per step.

    Raises:
        ValueError: the trace holds no event named ``marker``.
    """
    steps = [e for e in events if e.name == marker]
    if not steps:
        raise ValueError(f"no step marked {marker!r} in the trace")
    profiles = []
    for step in steps:
        inside = [e for e in events if e.kind and step.start_ps <= e.start_ps < step.end_ps]
        counts = collections.Counter(e.kind for e in inside)
        calls = [(e.start_ps, e.end_ps) for e in inside if e.kind != "kernel"]
        kernels = [(e.start_ps, e.end_ps) for e in inside if e.kind == "kernel"]
        in_tf, in_kernels = busy_ps(calls + kernels), busy_ps(kernels)
        wall = step.end_ps - step.start_ps
        profiles.append(
            StepProfile(
                wall_us=wall / 1e6,
                python_us=(wall - in_tf) / 1e6,
                runtime_us=(in_tf - in_kernels) / 1e6,
                kernel_us=in_kernels / 1e6,
                eager_ops=counts["eager op"],
                graph_calls=counts["graph call"],
                kernels=counts["kernel"],
            )
        )
    return profiles


def kernel_counts(events: list[Event], steps: int) -> dict[str, float]:
    """Kernels per step by op type, the most frequent first."""
    steps = check_int("steps", steps, minimum=1)
    counts = collections.Counter(e.op for e in events if e.kind == "kernel")
    return {op: n / steps for op, n in counts.most_common()}


def median_profile(profiles: list[StepProfile]) -> StepProfile:
    """The median of each field over the steps (counts too)."""
    if not profiles:
        raise ValueError("no step profiles to take the median of")
    fields = StepProfile.__dataclass_fields__
    values = {name: statistics.median(getattr(p, name) for p in profiles) for name in fields}
    for name in ("eager_ops", "graph_calls", "kernels"):
        values[name] = int(values[name])
    return StepProfile(**values)
