"""NuPIC 1.0.5's decoding API of ScalarEncoder and CategoryEncoder: bucket values, bucket info, top-down
compute and closeness scores, from NuPIC's rules (a bucket's value is its lower edge, or its centre when
periodic; top-down picks the bucket whose encoding overlaps most)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from influxhtm.nupic.encoders import CategoryEncoder, ScalarEncoder
from influxhtm.nupic.encoders.base import EncoderResult

GOLDEN = json.loads(
    (Path(__file__).resolve().parents[1] / "fixtures" / "golden" / "clients" / "scalar_vectors.json").read_text()
)


def test_scalar_buckets() -> None:
    e = ScalarEncoder(3, 0, 8, resolution=1, forced=True)
    assert e.getBucketValues() == [float(v) for v in range(9)]
    [info] = e.getBucketInfo([5])
    assert isinstance(info, EncoderResult)
    assert (info.value, info.scalar) == (5.0, 5.0)
    assert info.encoding.dtype == np.float32
    assert np.flatnonzero(info.encoding).tolist() == [5, 6, 7]
    [top] = e.topDownCompute(e.encode(5.3))
    assert top.value == 5.0 and np.array_equal(top.encoding, info.encoding)
    assert e.getScalars(5.3).tolist() == [5.3]


def test_periodic_bucket_is_its_centre() -> None:
    e = ScalarEncoder(3, 0, 10, periodic=True, resolution=1, forced=True)
    assert e.getBucketValues() == [i + 0.5 for i in range(10)]
    b = e.getBucketIndices(9.7)[0]
    assert b == 9
    [top] = e.topDownCompute(e.encode(9.7))
    assert top.value == 9.5
    assert np.flatnonzero(top.encoding).tolist() == [0, 8, 9]


@pytest.mark.parametrize("i", range(len(GOLDEN["ScalarEncoder"])))
def test_bucket_values_agree_with_bucket_indices(i: int) -> None:
    """For every golden vector: the value of the input's bucket is getBucketValues()[bucket], and the
    top-down value of the input's encoding is a bucket whose encoding equals it."""
    e = ScalarEncoder(**GOLDEN["ScalarEncoder"][i]["kwargs"])
    values = e.getBucketValues()
    for v in GOLDEN["ScalarEncoder"][i]["vectors"]:
        if "bits" not in v or v["input"] in (None, "nan"):
            continue
        b = e.getBucketIndices(v["input"])[0]
        assert b is not None
        if b < len(values):
            assert e.getBucketInfo([b])[0].value == values[b]
        [top] = e.topDownCompute(e.encode(v["input"]))
        assert top.value in values
        assert np.flatnonzero(top.encoding).tolist() == v["bits"]


def test_scalar_closeness() -> None:
    e = ScalarEncoder(3, 0, 8, resolution=1, forced=True)
    assert e.closenessScores([5], [6]).tolist() == [0.875]
    assert e.closenessScores([0], [20]).tolist() == [0.0]
    assert e.closenessScores([5], [6], fractional=False).tolist() == [1]
    p = ScalarEncoder(3, 0, 10, periodic=True, resolution=1, forced=True)
    assert p.closenessScores([1], [9]).tolist() == [0.8]
    assert p.closenessScores([1], [9], fractional=False).tolist() == [2]


def test_category_decoding() -> None:
    e = CategoryEncoder(w=3, categoryList=["a", "b", "c"], forced=True)
    assert e.getBucketValues() == ["<UNKNOWN>", "<UNKNOWN>", "a", "a", "a", "b", "b", "b", "c", "c"]
    [info] = e.getBucketInfo(e.getBucketIndices("b"))
    assert (info.value, info.scalar) == ("b", 2)
    assert np.flatnonzero(info.encoding).tolist() == [6, 7, 8]
    top = e.topDownCompute(e.encode("c"))
    assert isinstance(top, EncoderResult)  # one result, not a list, as in NuPIC
    assert (top.value, top.scalar) == ("c", 3)
    assert e.topDownCompute(e.encode("zzz")).value == "<UNKNOWN>"
    assert e.getScalars("b").tolist() == [2]
    assert e.closenessScores(["a"], ["a"]).tolist() == [1.0]
    assert e.closenessScores(["a"], ["b"]).tolist() == [0.0]
    assert e.closenessScores(["a"], ["b"], fractional=False).tolist() == [1.0]
