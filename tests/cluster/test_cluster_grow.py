"""Cluster mode on a real Ray cluster that grows: a node joins mid-stream and takes over its models."""

from tests.cluster.ray_nodes import in_namespace


def test_cluster_node_joining_mid_stream_continues_exactly_as_one_process(tmp_path):
    r = in_namespace("tests.cluster.grow_cluster", str(tmp_path))
    assert r["hosts_before"] == 1 and r["hosts_after"] == 2, r
    assert r["added_mid_stream"] and r["handed_over"], r
    assert r["outputs"] == r["expected_outputs"], r
    assert r["identical"], r  # every output as an uninterrupted single-process run's
    assert set(r["records_seen"].values()) == {300}, r  # each point learned exactly once
    assert r["manifest_records"] == r["records_seen"], r
    assert len(r["models_after"]) == 2 and sum(r["models_after"].values()) == 6, r  # both hosts hold models
    assert r["udf_exit"] == 0, r
