"""Cluster mode on a real two-node Ray cluster: a node dies mid-stream, nothing is lost or scored twice."""

from tests.cluster.ray_nodes import in_namespace


def test_cluster_node_loss_continues_exactly_as_one_process(tmp_path):
    result = in_namespace("tests.cluster.node_loss", str(tmp_path))
    assert result["hosts_killed"] >= 1, result  # the worker node held a model host
    assert result["host_declared_dead"], result
    assert result["outputs"] == result["expected_outputs"], result
    assert result["identical"], result  # every output as an uninterrupted single-process run's
    assert set(result["records_seen"].values()) == {400}, result  # each point learned exactly once
    assert result["manifest_records"] == result["records_seen"], result  # snapshot in cluster mode
    assert result["restored"], result
    assert result["udf_exit"] == 0, result
