"""Placement of models on hosts (rendezvous hashing) and the state store interface: no Ray needed."""

import pytest

from influxhtm.cluster.placement import owner, weight
from influxhtm.cluster.state_store import SharedDirectory, state_store
from influxhtm.store import JournalEntry, ModelMetadata

KEYS = [("task", "htm2", f"host=server{i:05d}") for i in range(20_000)]


def placement(hosts):
    return {key: owner(hosts, key) for key in KEYS}


def test_cluster_placement_is_stable_across_processes_and_releases():
    # a fixed value: Python's salted hash() would differ per process, and a moved model would be reopened
    assert weight("host-0", ("t", "n", "g")) == 15266346025615467696
    assert owner(["host-0", "host-1", "host-2"], ("t", "n", "host=a")) == "host-0"
    assert owner(["host-2", "host-0", "host-1"], ("t", "n", "host=a")) == "host-0"  # order of hosts is irrelevant


def test_cluster_placement_spreads_evenly_and_a_lost_host_moves_only_its_models():
    hosts = [f"host-{i}" for i in range(4)]
    before = placement(hosts)
    shares = [sum(1 for h in before.values() if h == host) / len(KEYS) for host in hosts]
    assert all(0.22 < share < 0.28 for share in shares), shares
    after = placement(hosts[:2] + hosts[3:])  # host-2 died
    moved = [key for key in KEYS if before[key] != after[key]]
    assert all(before[key] == "host-2" for key in moved)
    assert len(moved) == sum(1 for h in before.values() if h == "host-2")


def test_cluster_placement_adding_a_host_moves_about_one_in_n_plus_one():
    hosts = [f"host-{i}" for i in range(4)]
    before, after = placement(hosts), placement([*hosts, "host-4"])
    moved = [key for key in KEYS if before[key] != after[key]]
    assert all(after[key] == "host-4" for key in moved)
    assert 0.18 < len(moved) / len(KEYS) < 0.22


def test_cluster_placement_needs_a_host():
    with pytest.raises(ValueError, match="no model host"):
        owner([], ("t", "n", "g"))


def test_cluster_state_store_spec_names_the_same_store_on_every_host(tmp_path):
    store = SharedDirectory(str(tmp_path / "shared"))
    again = state_store(store.spec)
    assert isinstance(again, SharedDirectory) and again.path == store.path
    assert state_store(str(tmp_path / "shared")).spec == store.spec
    writer, reader = store.open(), again.open()  # two hosts on the same store
    writer.write_metadata("m1", ModelMetadata(origin="udf", task="t"))
    writer.append_journal("m1", JournalEntry(1_000_000_000, 2.5))
    assert reader.load("m1").journal == [JournalEntry(1_000_000_000, 2.5)]
    writer.close()
    reader.close()


def test_cluster_state_store_refuses_an_unknown_scheme():
    with pytest.raises(ValueError, match="unknown state store"):
        state_store("s3://bucket/models")
