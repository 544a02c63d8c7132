"""Cluster mode end to end: a real kapacitord task scores three groups through model hosts on two Ray nodes."""

from tests.cluster.ray_nodes import in_namespace


def test_cluster_kapacitord_task_scores_every_group_as_the_oracle(tmp_path, kapacitord_path):
    result = in_namespace("tests.cluster.kapacitord_cluster", str(tmp_path), str(kapacitord_path))
    assert result["results"] == 3 * 600, result
    assert result["mismatches"] == {}, result
    assert not result["task_error"], result
