"""`influxhtm.nupic.encoders.random_distributed_scalar.RandomDistributedScalarEncoder` against NuPIC 1.0.5's
recorded vectors (tests/fixtures/golden/rdse_vectors.json): buckets, on-bits, each bucket's bits in creation
order and the created range after every value; `offset`; OPF models built with it."""

import json
import math

import numpy as np
import pytest

from influxhtm.nupic.encoders import RandomDistributedScalarEncoder
from influxhtm.nupic.frameworks.opf.model_factory import ModelFactory
from tests.engine.golden import FIXTURES

VECTORS = json.loads((FIXTURES / "golden" / "rdse_vectors.json").read_text())


def encoder(**extra) -> RandomDistributedScalarEncoder:
    p = VECTORS["params"]
    return RandomDistributedScalarEncoder(p["resolution"], w=p["w"], n=p["n"], seed=p["seed"], **extra)


def test_every_recorded_value_encodes_as_nupic_did():
    enc = encoder()
    assert list(enc.mapBucketIndexToNonZeroBits(500)) == VECTORS["initial_bucket_500_in_order"]
    for step in VECTORS["sequence"]:
        output = enc.encode(step["value"])
        assert list(np.flatnonzero(output)) == step["on_bits"], step["value"]
        assert enc.getBucketIndices(step["value"]) == [step["bucket"]]
        assert list(enc.mapBucketIndexToNonZeroBits(step["bucket"])) == step["bucket_bits_in_creation_order"]
        assert [enc.minIndex, enc.maxIndex] == step["buckets_after"]
    for bucket, bits in VECTORS["bucketMap_after"].items():
        assert list(enc.mapBucketIndexToNonZeroBits(int(bucket))) == bits
    assert enc.offset == VECTORS["sequence"][0]["value"]


def test_offset_argument_sets_the_middle_bucket():
    enc = encoder(offset=20.0)
    assert enc.getBucketIndices(10.0) == [480]
    assert enc.getBucketIndices(20.0) == [500]
    assert enc.offset == 20.0


def test_missing_values_and_shape():
    enc = encoder()
    assert enc.getBucketIndices(None) == [None]
    assert enc.encode(None).sum() == 0 and enc.encode(math.nan).sum() == 0
    assert enc.getWidth() == 400 and enc.encode(1.0).dtype == np.uint8 and enc.encode(1.0).sum() == 21
    assert enc.getDescription() == [("[0.5]", 0)]
    out = np.zeros(400, dtype=np.uint8)
    enc.encodeIntoArray(1.0, out)
    assert (out == enc.encode(1.0)).all()


@pytest.mark.parametrize(
    "kwargs, words", [({"w": 20}, "odd"), ({"n": 100}, r"6 \* w"), ({"resolution": 0.0}, "positive")]
)
def test_bad_parameters_are_refused(kwargs, words):
    args = {"resolution": 1.0, **kwargs}
    with pytest.raises(ValueError, match=words):
        RandomDistributedScalarEncoder(**args)


def _params(value_encoder: dict) -> dict:
    return {
        "model": "HTMPrediction",
        "version": 1,
        "modelParams": {
            "inferenceType": "TemporalAnomaly",
            "sensorParams": {"verbosity": 0, "encoders": {"value": value_encoder}, "sensorAutoReset": None},
            "spEnable": True,
            "spParams": {"inputWidth": 0, "columnCount": 2048, "numActiveColumnsPerInhArea": 40, "seed": 1956},
            "tmEnable": True,
            "tmParams": {"columnCount": 2048, "cellsPerColumn": 32, "inputWidth": 2048, "seed": 1960},
            "clEnable": False,
        },
    }


def test_opf_models_take_rdse_params_with_an_offset():
    """An RDSE `offset` in the params is the encoder's; two models that differ only in it differ."""
    base = {"type": "RandomDistributedScalarEncoder", "fieldname": "value", "name": "value", "resolution": 1.0}
    scores = []
    for extra in ({}, {"offset": 50.0}):
        model = ModelFactory.create(_params({**base, **extra}))
        model.enableInference({"predictedField": "value"})
        scores.append([float(model.run({"value": float(v % 7)}).inferences["anomalyScore"]) for v in range(60)])
    assert scores[0] != scores[1]
