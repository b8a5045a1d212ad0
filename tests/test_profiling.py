"""Tests for utils/profiling.py: reading a profiler trace.

A hand-made trace checks the parsing (kinds, nesting, the split of a step's
time); a real trace of a few operations checks that the event names it
relies on are the ones this TensorFlow writes.
"""

from __future__ import annotations

import pytest
from tfcustom import quiet_tensorflow

quiet_tensorflow()

import tensorflow as tf  # noqa: E402
from tfcustom import profiling  # noqa: E402
from tfcustom.profiling import Event, busy_ps, load_trace, step_profiles  # noqa: E402


def write_trace(folder, lines):
    """An .xplane.pb with one /host:CPU plane; lines: {thread: [(name, start_ps, ps, is_func)]}."""
    xplane_pb2 = profiling._xplane_pb2()
    space = xplane_pb2.XSpace()
    plane = space.planes.add(name="/host:CPU")
    plane.stat_metadata[1].id, plane.stat_metadata[1].name = 1, "is_func"
    ids = {}
    for thread, events in lines.items():
        line = plane.lines.add(name=thread, timestamp_ns=1)
        for name, start, duration, is_func in events:
            if name not in ids:
                ids[name] = len(ids) + 1
                plane.event_metadata[ids[name]].id = ids[name]
                plane.event_metadata[ids[name]].name = name
            event = line.events.add(metadata_id=ids[name], offset_ps=start, duration_ps=duration)
            if is_func is not None:
                event.stats.add(metadata_id=1, int64_value=is_func)
    path = folder / "plugins" / "profile" / "2026_01_01_00_00_00" / "host.xplane.pb"
    path.parent.mkdir(parents=True)
    path.write_bytes(space.SerializeToString())
    return path


def test_a_hand_made_trace_is_split_into_python_runtime_and_kernels(tmp_path):
    python = [
        ("train", 0, 1000, None),
        ("EagerExecute", 100, 200, 0),  # one eager op...
        ("EagerLocalExecute: MatMul", 110, 180, None),
        ("KernelAndDeviceFunc::Run", 150, 100, None),  # ...and its kernel
        ("EagerExecute", 400, 300, 1),  # a graph call
        ("KernelAndDeviceFunc::Run", 420, 250, None),  # the graph: no kernel
        ("train", 2000, 500, None),  # a second, empty step
    ]
    compute = [
        ("ExecutorState::Process", 450, 200, None),
        ("dense/MatMul:MatMul", 460, 50, None),
        ("ThreadpoolListener::Record", 520, 10, None),
        ("dense/Relu:Relu", 600, 40, None),
    ]
    events = load_trace(write_trace(tmp_path, {"python": python, "tf_Compute/1": compute}))
    kinds = {(e.name, e.start_ps - 1000): e.kind for e in events}  # timestamp_ns=1
    assert kinds["EagerExecute", 100] == "eager op"
    assert kinds["EagerExecute", 400] == "graph call"
    assert kinds["KernelAndDeviceFunc::Run", 150] == "kernel"
    assert kinds["KernelAndDeviceFunc::Run", 420] is None
    assert kinds["dense/MatMul:MatMul", 460] == "kernel"
    assert kinds["ThreadpoolListener::Record", 520] is None
    assert profiling.kernel_counts(events, 1) == {"MatMul": 2.0, "Relu": 1.0}
    first, second = step_profiles(events)
    assert (first.eager_ops, first.graph_calls, first.kernels) == (1, 1, 3)
    # In TensorFlow: 100-300 and 400-700; kernels 150-250, 460-510, 600-640.
    assert first.wall_us == pytest.approx(1000 / 1e6)
    assert first.python_us == pytest.approx(500 / 1e6)
    assert first.kernel_us == pytest.approx(190 / 1e6)
    assert first.runtime_us == pytest.approx(310 / 1e6)
    assert first.outside_kernels == pytest.approx(1 - 190 / 1000)
    assert (second.eager_ops, second.kernels, second.kernel_us) == (0, 0, 0)
    median = profiling.median_profile([first, second])
    assert median.wall_us == pytest.approx(750 / 1e6)


def test_busy_time_counts_overlaps_once():
    assert busy_ps([]) == 0
    assert busy_ps([(0, 10), (5, 15), (20, 25)]) == 20
    assert busy_ps([(0, 100), (10, 20)]) == 100


def test_a_real_trace_of_eager_ops_and_a_graph(tmp_path):
    x = tf.constant([[1.0, 2.0]])

    def eager_step():
        return tf.matmul(x, x, transpose_b=True) + 1.0

    graph_step = tf.function(eager_step)
    eager = load_trace(profiling.profile_steps(eager_step, tmp_path / "eager", steps=2))
    graph = load_trace(profiling.profile_steps(graph_step, tmp_path / "graph", steps=2))
    eager_steps, graph_steps = step_profiles(eager), step_profiles(graph)
    assert len(eager_steps) == len(graph_steps) == 2
    assert all(s.eager_ops == s.kernels == 2 and s.graph_calls == 0 for s in eager_steps)
    assert profiling.kernel_counts(eager, 2) == {"MatMul": 1.0, "AddV2": 1.0}
    assert all(s.graph_calls == 1 and s.eager_ops == 0 for s in graph_steps)
    assert all(s.kernels >= 1 for s in graph_steps)


def test_profile_and_trace_file_refuse_what_they_cannot_use(tmp_path):
    with pytest.raises(FileNotFoundError, match="no profiler trace"):
        profiling.trace_file(tmp_path)
    write_trace(tmp_path, {"python": [("train", 0, 10, None)]})
    with pytest.raises(ValueError, match="already holds a trace"):
        profiling.profile_steps(lambda: None, tmp_path)
    with pytest.raises(ValueError, match="steps must be an int >= 1"):
        profiling.profile_steps(lambda: None, tmp_path / "new", steps=0)
    other = tmp_path / "plugins" / "profile" / "2026_01_01_00_00_01" / "host.xplane.pb"
    other.parent.mkdir()
    other.write_bytes(b"")
    with pytest.raises(ValueError, match="2 traces"):
        profiling.trace_file(tmp_path)
    with pytest.raises(ValueError, match="no step marked"):
        step_profiles([Event("other", 0, 1)])
    with pytest.raises(ValueError, match="no step profiles"):
        profiling.median_profile([])
