"""A panic inside the engine reaches Python as EnginePanic, for that object only: the object is poisoned
(it refuses every later call instead of computing on a half-updated state), every other object goes on.

The panic is a real Rust panic in the middle of a model step, made by the engine's test-only fault
injection (`_engine._inject_panic_on_value`): a step that sees the trigger value panics after the
spatial pooler has learned and before the sequence memory has.
"""

import datetime

import pytest

from influxhtm import _engine
from influxhtm.htm import AnomalyDetector, EngineError, EnginePanic, ModelFactory, anomaly_params

TRIGGER = 4242.4242  # an input no other test sends
T0 = datetime.datetime(2020, 1, 1)


@pytest.fixture
def fault():
    _engine._inject_panic_on_value(TRIGGER)
    try:
        yield TRIGGER
    finally:
        _engine._inject_panic_on_value(None)


def at(i):
    return T0 + datetime.timedelta(minutes=5 * i)


def poisoned_calls(detector):
    return [
        lambda: detector.handle(at(99), 1.0),
        lambda: detector.handle_epochs([1, 2], [1.0, 2.0]),
        lambda: detector.handle_traced(at(99), 1.0),
        detector.save,
        detector.copy,
    ]


@pytest.mark.parametrize("call", ["handle", "handle_epochs", "handle_traced"])
def test_a_panic_in_a_step_raises_engine_panic_and_poisons_that_detector_only(fault, call):
    victim, bystander = AnomalyDetector(0, 5000), AnomalyDetector(0, 5000)
    for i in range(5):
        victim.handle(at(i), float(i))
        bystander.handle(at(i), float(i))
    checkpoint = victim.save()
    with pytest.raises(EnginePanic, match="injected fault") as raised:
        if call == "handle":
            victim.handle(at(5), fault)
        elif call == "handle_epochs":
            victim.handle_epochs([10, 20, 30], [1.0, fault, 2.0])
        else:
            victim.handle_traced(at(5), fault)
    assert isinstance(raised.value, EngineError) and not isinstance(raised.value, ValueError)
    if call == "handle_epochs":
        assert "at record 1 of 3" in str(raised.value)
    assert "injected fault" in victim.poisoned
    for later in poisoned_calls(victim):
        with pytest.raises(EnginePanic, match="model is poisoned"):
            later()
    # the other detector, and the victim's last checkpoint, go on as if nothing happened
    assert bystander.poisoned is None
    assert bystander.handle(at(5), 5.0) == AnomalyDetector.load(checkpoint).handle(at(5), 5.0)


def test_a_panic_in_an_opf_model_poisons_it(fault):
    model = ModelFactory.create(anomaly_params(0, 5000))
    model.run({"timestamp": at(0), "value": 1.0})
    with pytest.raises(EnginePanic, match="injected fault"):
        model.run({"timestamp": at(1), "value": fault})
    with pytest.raises(EnginePanic, match="model is poisoned"):
        model.run({"timestamp": at(2), "value": 1.0})
    with pytest.raises(EnginePanic, match="model is poisoned"):
        model.save()


def test_the_fault_is_inert_unless_armed():
    detector = AnomalyDetector(0, 5000)
    detector.handle(at(0), TRIGGER)
    assert detector.poisoned is None
