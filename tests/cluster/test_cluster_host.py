"""The model host without Ray: a host lost after learning a run it never answered; the run re-sent to a new
host on the same state store is answered exactly as an uninterrupted run (no Ray: the loss of a process is
the abandoned host object, whose writes had reached the OS as a kill -9 leaves them); a host hands over the
models a new host owns."""

import pytest

from influxhtm.cluster.host import ModelHost
from influxhtm.cluster.placement import owner
from influxhtm.kapacitor_udf import udf_pb2
from influxhtm.store import ModelStore, model_id_for
from tests.cluster.node_loss import OPTIONS, by_group, single_process
from tests.htm_udf.servers import interleaved_stream

INIT = udf_pb2.InitRequest(taskID="t", nodeID="n", options=OPTIONS).SerializeToString()


def outputs(answers) -> list:
    return [udf_pb2.Point.FromString(data) for answer in answers for data in answer]


# runs of 23 points: the warm-ups (50 points per group) end in run 6; 7 comes before any checkpoint after them
@pytest.mark.parametrize("lost_run", [2, 6, 7, 11, 19])
def test_cluster_host_lost_run_is_answered_once_by_its_successor(tmp_path, lost_run):
    points = interleaved_stream(150, ("a", "b", "c"))  # warm-up of 50, checkpoint every 60 points
    runs = [[p.SerializeToString() for p in points[i : i + 23]] for i in range(0, len(points), 23)]
    state = str(tmp_path / "state")
    first = ModelHost(state)
    delivered = []
    for seq, run in enumerate(runs[: lost_run + 1], 1):
        answers = first.process("lane", seq, INIT, run)
        if seq <= lost_run:
            delivered += outputs(answers)  # the answers of run lost_run + 1 never reach the front
    first.registry.checkpointer.close()  # a background checkpoint in progress lands (or not: either is exact)
    second = ModelHost(state)
    for seq, run in enumerate(runs[lost_run:], lost_run + 1):
        delivered += outputs(second.process("lane", seq, INIT, run))
    second.close()
    assert by_group(delivered) == single_process(points, str(tmp_path / "local"))
    records = {m: ModelStore(state).metadata(m).records_seen for m in ModelStore(state).model_ids()}
    assert set(records.values()) == {150}


def test_cluster_host_answers_a_repeated_run_again_without_learning_it_twice(tmp_path):
    points = interleaved_stream(80, ("a",))
    host = ModelHost(str(tmp_path / "state"))
    run = [p.SerializeToString() for p in points]
    once = host.process("lane", 1, INIT, run)
    assert host.process("lane", 1, INIT, run) == once
    assert host.records_seen("t", "n", ["host=a"]) == [80]
    host.close()


def test_cluster_host_hands_over_exactly_the_models_a_new_host_owns(tmp_path):
    groups = tuple("abcdefgh")
    points = interleaved_stream(70, groups)  # past the warm-up of 50: every model has state to save
    host = ModelHost(str(tmp_path / "state"))
    host.process("lane", 1, INIT, [p.SerializeToString() for p in points])
    keys = [("t", "n", f"host={g}") for g in groups]
    moving = [key for key in keys if owner(["host-0", "host-1"], key) == "host-1"]
    assert 0 < len(moving) < len(keys)
    assert host.release("host-0", ["host-0", "host-1"]) == (len(moving), [])
    assert sorted(host.registry.resident_keys()) == sorted(set(keys) - set(moving))
    store = ModelStore(str(tmp_path / "state"))
    assert {store.metadata(model_id_for(*key)).records_seen for key in moving} == {70}  # saved when dropped
    host.close()


def test_cluster_host_cut_off_by_a_partition_cannot_touch_what_its_successor_took_over(tmp_path):
    """The front declares `first` dead and re-sends its unanswered run to `second`. Later `first` wakes up,
    runs the run that was queued for it and shuts down, checkpointing what it holds; then `second` is lost
    too (kill -9: nothing but what reached the store). None of `first`'s late writes may reach the store: a
    third host continuing from it must answer as one uninterrupted run."""
    points = interleaved_stream(200, ("a", "b", "c"))
    runs = [[p.SerializeToString() for p in points[i : i + 23]] for i in range(0, len(points), 23)]
    state = str(tmp_path / "state")
    first = ModelHost(state)
    delivered = []
    for seq, run in enumerate(runs[:8], 1):
        delivered += outputs(first.process("lane", seq, INIT, run))
    second = ModelHost(state)
    for seq, run in enumerate(runs[8:11], 9):
        delivered += outputs(second.process("lane", seq, INIT, run))
    first.process("lane", 9, INIT, runs[8])  # the run that was queued for it: its answers reach no one
    first.close()
    for seq, run in enumerate(runs[11:14], 12):
        delivered += outputs(second.process("lane", seq, INIT, run))
    second.registry.checkpointer.close()  # then lost: what it wrote stays, nothing more
    third = ModelHost(state)
    for seq, run in enumerate(runs[14:], 15):
        delivered += outputs(third.process("lane", seq, INIT, run))
    third.close()
    assert by_group(delivered) == single_process(points, str(tmp_path / "local"))
    records = {m: ModelStore(state).metadata(m).records_seen for m in ModelStore(state).model_ids()}
    assert set(records.values()) == {200}
