"""Cluster mode's --metrics on a real two-node Ray cluster: the front's points, each host's figures."""

from tests.cluster.ray_nodes import in_namespace


def test_cluster_metrics_show_each_host_and_follow_a_lost_one(tmp_path):
    r = in_namespace("tests.cluster.metrics_cluster", str(tmp_path))
    assert r["hosts_before"] == 2 and set(r["models_before"]) == {"host-0", "host-1"}, r
    assert r["points_in_before"] == r["points_out_before"] == r["answered"] == r["sent"], r  # the NaN answered too
    assert r["nan_before"] == 1, r  # counted by the host that owns its group
    assert sum(r["models_before"].values()) == 6, r  # one model per group, each on one host
    assert all(r["steps_before"].values()), r  # both hosts scored
    assert r["reenabled"] == 0, r  # the front's own counter, without a host label
    assert r["snapshot_after_kill"] == [f"host={g}" for g in "abcdef"], r  # the idle dead host found and replaced
    assert r["hosts_after"] == 1 and len(r["models_after"]) == 1, r  # the dead node's host is gone ...
    assert sum(r["models_after"].values()) == 6 and r["answered_after"] == 30, r  # ... its models moved
    assert r["points_in_after"] == r["sent"] + 30, r
    assert r["udf_exit"] == 0, r
