"""NuPIC 1.0.5's encoder vectors (tests/fixtures/golden/clients/scalar_vectors.json) against
influxhtm.nupic.encoders: bits, bucket indices, width, description, scalars and errors, exactly."""

from __future__ import annotations

import builtins
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from influxhtm.nupic.encoders.adaptive_scalar import AdaptiveScalarEncoder
from influxhtm.nupic.encoders.category import CategoryEncoder
from influxhtm.nupic.encoders.delta import DeltaEncoder
from influxhtm.nupic.encoders.log import LogEncoder
from influxhtm.nupic.encoders.scalar import ScalarEncoder
from influxhtm.nupic.encoders.sdr_category import SDRCategoryEncoder

GOLDEN = json.loads(
    (Path(__file__).resolve().parents[1] / "fixtures" / "golden" / "clients" / "scalar_vectors.json").read_text()
)


def _input(x: Any) -> Any:
    return float("nan") if x == "nan" else x


def _input_id(x: Any) -> str:
    return "None" if x is None else repr(x)


def _expected_type(name: str) -> type[BaseException]:
    t = getattr(builtins, name)
    assert isinstance(t, type) and issubclass(t, BaseException)
    return t


SCALAR_SETS = [pytest.param(s, id=f"set{i}") for i, s in enumerate(GOLDEN["ScalarEncoder"])]
SCALAR_VECTORS = [
    pytest.param(i, v, id=f"set{i}-{j}-{_input_id(v['input'])}")
    for i, s in enumerate(GOLDEN["ScalarEncoder"])
    for j, v in enumerate(s["vectors"])
]
_SCALAR_CACHE: dict[int, ScalarEncoder] = {}


def _scalar(i: int) -> ScalarEncoder:
    if i not in _SCALAR_CACHE:
        _SCALAR_CACHE[i] = ScalarEncoder(**GOLDEN["ScalarEncoder"][i]["kwargs"])
    return _SCALAR_CACHE[i]


def test_vector_counts() -> None:
    assert GOLDEN["format"] == "influxhtm-golden-encoders-1"
    assert sum(len(s["vectors"]) for s in GOLDEN["ScalarEncoder"]) == 509


@pytest.mark.parametrize("params", SCALAR_SETS)
def test_scalar_attrs(params: dict[str, Any]) -> None:
    enc = ScalarEncoder(**params["kwargs"])
    assert enc.getWidth() == params["n"]
    for key, want in params["attrs"].items():
        assert getattr(enc, key) == want, key
    kw = params["kwargs"]
    name = kw.get("name") or f"[{kw['minval']}:{kw['maxval']}]"
    assert enc.getDescription() == [(name, 0)]


@pytest.mark.parametrize(("set_index", "vector"), SCALAR_VECTORS)
def test_scalar_vector(set_index: int, vector: dict[str, Any]) -> None:
    enc = _scalar(set_index)
    x = _input(vector["input"])
    if "error" in vector:
        with pytest.raises(_expected_type(vector["error"]["type"])) as exc:
            enc.encode(x)
        assert str(exc.value) == vector["error"]["message"]
    else:
        out = enc.encode(x)
        assert out.dtype == np.uint8 and out.shape == (enc.getWidth(),)
        assert np.nonzero(out)[0].tolist() == vector["bits"]
    if "bucketError" in vector:
        with pytest.raises(_expected_type(vector["bucketError"]["type"])) as exc:
            enc.getBucketIndices(x)
        assert str(exc.value) == vector["bucketError"]["message"]
    else:
        assert enc.getBucketIndices(x) == [vector["bucket"]]
    scalars = enc.getScalars(x)
    assert len(scalars) == 1
    if x is None:
        assert scalars[0] is None
    elif isinstance(x, float) and math.isnan(x):
        assert math.isnan(scalars[0])
    else:
        assert scalars[0] == x


@pytest.mark.parametrize("case", [pytest.param(c, id=c["desc"]) for c in GOLDEN["ScalarEncoderConstructorErrors"]])
def test_scalar_constructor_error(case: dict[str, Any]) -> None:
    with pytest.raises(_expected_type(case["error"]["type"])) as exc:
        ScalarEncoder(**case["kwargs"])
    assert str(exc.value) == case["error"]["message"]


def test_scalar_rejects_non_numbers() -> None:
    enc = ScalarEncoder(21, 0.0, 10.0, n=100)
    with pytest.raises(TypeError):
        enc.encode("1.0")


# ---- CategoryEncoder ----------------------------------------------------------------------------

CATEGORY_VECTORS = [
    pytest.param(i, v, id=f"set{i}-{j}-{_input_id(v['input'])}")
    for i, s in enumerate(GOLDEN["CategoryEncoder"])
    for j, v in enumerate(s["vectors"])
]


@pytest.mark.parametrize(("set_index", "vector"), CATEGORY_VECTORS)
def test_category_vector(set_index: int, vector: dict[str, Any]) -> None:
    params = GOLDEN["CategoryEncoder"][set_index]
    enc = CategoryEncoder(**params["kwargs"])
    assert enc.getWidth() == params["n"]
    assert enc.getDescription() == [("category", 0)]
    out = enc.encode(vector["input"])
    assert out.dtype == np.uint8 and out.shape == (params["n"],)
    assert np.nonzero(out)[0].tolist() == vector["bits"]
    assert enc.getBucketIndices(vector["input"]) == [vector["bucket"]]
    if vector["input"] is not None:
        cats = params["kwargs"]["categoryList"]
        want = cats.index(vector["input"]) + 1 if vector["input"] in cats else 0
        assert enc.getScalars(vector["input"]).tolist() == [want]


# ---- LogEncoder ---------------------------------------------------------------------------------

LOG_SETS = [pytest.param(s, id=f"set{i}") for i, s in enumerate(GOLDEN["LogEncoder"])]
LOG_VECTORS = [
    pytest.param(i, v, id=f"set{i}-{j}-{_input_id(v['input'])}")
    for i, s in enumerate(GOLDEN["LogEncoder"])
    for j, v in enumerate(s["vectors"])
]


@pytest.mark.parametrize("params", LOG_SETS)
def test_log_attrs(params: dict[str, Any]) -> None:
    enc = LogEncoder(**params["kwargs"])
    assert enc.getWidth() == params["n"]
    assert enc.getDescription() == [("log", 0)]
    attrs = dict(params["attrs"])
    inner = attrs.pop("inner")
    for key, want in attrs.items():
        assert getattr(enc, key) == want, key
    for key, want in inner.items():
        assert getattr(enc.encoder, key) == want, f"inner.{key}"


@pytest.mark.parametrize(("set_index", "vector"), LOG_VECTORS)
def test_log_vector(set_index: int, vector: dict[str, Any]) -> None:
    enc = LogEncoder(**GOLDEN["LogEncoder"][set_index]["kwargs"])
    x = _input(vector["input"])
    assert "error" not in vector
    out = enc.encode(x)
    assert out.dtype == np.uint8 and out.shape == (enc.getWidth(),)
    assert np.nonzero(out)[0].tolist() == vector["bits"]
    assert enc.getBucketIndices(x) == [vector["bucket"]]


def test_log_defaults_error() -> None:
    case = GOLDEN["LogEncoderDefaults"]
    with pytest.raises(_expected_type(case["error"]["type"])) as exc:
        LogEncoder(**case["kwargs"])
    assert str(exc.value) == case["error"]["message"]


# ---- DeltaEncoder (stateful: each set is one sequence) -------------------------------------------


@pytest.mark.parametrize(
    "params", [pytest.param(s, id=f"set{i}-{s['desc']}") for i, s in enumerate(GOLDEN["DeltaEncoder"])]
)
def test_delta_sequence(params: dict[str, Any]) -> None:
    enc = DeltaEncoder(**params["kwargs"])
    assert enc.getWidth() == params["n"]
    for j, vector in enumerate(params["vectors"]):
        x = _input(vector["input"])
        out = enc.encode(x)
        assert np.nonzero(out)[0].tolist() == vector["bits"], f"step {j} input {x}"
        inner = enc._adaptiveScalarEnc
        assert inner is not None
        for key, want in vector["after"].items():
            assert getattr(inner, key) == want, f"step {j} after.{key}"


def test_adaptive_scalar_follows_the_delta_ranges() -> None:
    """The DeltaEncoder vectors, replayed as deltas straight into an AdaptiveScalarEncoder."""
    for params in GOLDEN["DeltaEncoder"]:
        kw = params["kwargs"]
        enc = AdaptiveScalarEncoder(**kw)
        prev = None
        for vector in params["vectors"]:
            x = _input(vector["input"])
            if x is None:
                continue
            prev = x if prev is None else prev
            out = enc.encode(x - prev)
            prev = x
            assert np.nonzero(out)[0].tolist() == vector["bits"]
            assert (enc.minval, enc.maxval, enc.resolution) == tuple(
                vector["after"][k] for k in ("minval", "maxval", "resolution")
            )


# ---- SDRCategoryEncoder (own RNG; order matters) -------------------------------------------------


@pytest.mark.parametrize(
    "params", [pytest.param(s, id=f"set{i}-{s['desc']}") for i, s in enumerate(GOLDEN["SDRCategoryEncoder"])]
)
def test_sdr_category_sequence(params: dict[str, Any]) -> None:
    enc = SDRCategoryEncoder(**params["kwargs"])
    assert enc.getWidth() == params["n"]
    assert enc.getDescription() == [("category", 0)]

    def table() -> dict[str, list[int]]:
        return {c: enc.categoryBits(i) for i, c in enumerate(enc.categories)}

    assert table() == params["categoriesAfterInit"]
    assert enc.categories == list(params["categoriesAfterInit"])
    for j, vector in enumerate(params["vectors"]):
        out = enc.encode(vector["input"])
        assert out.dtype == np.uint8 and out.shape == (params["n"],)
        assert np.nonzero(out)[0].tolist() == vector["bits"], f"step {j}"
    assert table() == params["categoriesAfterVectors"]
    assert enc.categories == list(params["categoriesAfterVectors"])
