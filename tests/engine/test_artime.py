"""The ARTime detector through the Python binding: NAB parity on a file whose values parse the same
with Python's float, checkpoints that continue exactly, causality, refused inputs that change nothing,
and values outside the configured range."""

import csv
import gzip
import math

import pytest

from influxhtm import _engine
from influxhtm._engine import Artime, CorruptState, InvalidParams
from influxhtm.detect import read_series
from tests.engine.golden import GOLDEN, NAB_DATA


def nab_values(name):
    return read_series(str(NAB_DATA / name)).values


def golden_scores(name):
    with gzip.open(GOLDEN / "artime" / "artime_nab_scores.csv.gz", "rt", newline="") as f:
        return [float(row["anomaly_score"]) for row in csv.DictReader(f) if row["file"] == name]


def nab_detector(values):
    return Artime(min(values), max(values), len(values))


@pytest.fixture(scope="module")
def taxi():
    return nab_values("realKnownCause/nyc_taxi.csv")


def test_matches_nab_on_a_file(taxi):
    # nyc_taxi's values are integers: Python's float parses them as NAB's pandas did.
    expected = golden_scores("realKnownCause/nyc_taxi.csv")
    detector = nab_detector(taxi)
    assert (detector.sstep, detector.trend_window) == (7, 107)
    scores = detector.handle_many(taxi)
    assert len(scores) == len(expected) == detector.records_seen
    assert all(abs(a - b) <= 1e-9 for a, b in zip(scores, expected))
    assert sum(s != 0 for s in scores) == 12


def test_save_load_continues_exactly(taxi):
    expected = nab_detector(taxi).handle_many(taxi)
    for split in (3, 700, 750, 5000):
        first = nab_detector(taxi)
        head = [first.handle(v) for v in taxi[:split]]
        assert head == expected[:split]
        restored = Artime.load(first.save())
        assert restored.records_seen == split
        assert (restored.dmin, restored.dmax, restored.n_records) == (first.dmin, first.dmax, first.n_records)
        assert [restored.handle(v) for v in taxi[split:]] == expected[split:]
        # The original goes on independently of its checkpoint.
        assert first.handle_many(taxi[split:]) == expected[split:]


def test_copy_is_independent(taxi):
    detector = nab_detector(taxi)
    detector.handle_many(taxi[:2000])
    twin = detector.copy()
    assert detector.handle_many(taxi[2000:3000]) == twin.handle_many(taxi[2000:3000])
    assert twin.records_seen == detector.records_seen == 3000


def test_a_prefix_scores_the_same_whatever_follows(taxi):
    whole = nab_detector(taxi).handle_many(taxi)
    for cut in (800, 3001, 7777):
        prefix = nab_detector(taxi).handle_many(taxi[:cut])
        assert prefix == whole[:cut]
        # Other records after the prefix leave the prefix's scores alone.
        other = nab_detector(taxi)
        assert other.handle_many(taxi[:cut]) == prefix
        other.handle_many([v * 1.5 for v in taxi[cut:]])


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_non_finite_value_is_refused_and_changes_nothing(taxi, bad):
    detector = nab_detector(taxi)
    detector.handle_many(taxi[:1000])
    before = detector.save()
    with pytest.raises(ValueError, match="finite"):
        detector.handle(bad)
    with pytest.raises(InvalidParams):
        detector.handle(bad)
    assert detector.records_seen == 1000
    assert detector.save() == before
    assert detector.poisoned is None
    reference = Artime.load(before)
    assert detector.handle_many(taxi[1000:]) == reference.handle_many(taxi[1000:])


def test_handle_many_stops_at_the_first_bad_record(taxi):
    detector = nab_detector(taxi)
    with pytest.raises(InvalidParams, match="record 5"):
        detector.handle_many([*taxi[:5], math.nan, *taxi[5:10]])
    assert detector.records_seen == 5


def test_values_outside_the_range_do_not_crash():
    detector = Artime(0.0, 10.0, 1000)
    # Mostly 0..11.2 (partly above dmax), with huge values of both signs every 50 records.
    values = [(i % 17) * 0.7 if i % 50 else (1e12 if i % 100 else -1e12) for i in range(20_000)]
    scores = [detector.handle(v) for v in values]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert detector.records_seen == 20_000
    assert 0 < detector.categories <= 2048
    assert Artime.load(detector.save()).records_seen == 20_000


@pytest.mark.parametrize(
    ("dmin", "dmax", "n"),
    [(1.0, 0.0, 1000), (math.nan, 1.0, 1000), (0.0, math.inf, 1000), (0.0, 1.0, 0), (0.0, 1.0, 93), (0.0, 1.0, -5)],
)
def test_invalid_parameters_are_refused(dmin, dmax, n):
    with pytest.raises(InvalidParams):
        Artime(dmin, dmax, n)


def test_a_foreign_or_damaged_blob_is_refused(taxi):
    detector = nab_detector(taxi)
    detector.handle_many(taxi[:100])
    blob = detector.save()
    with pytest.raises(CorruptState):
        Artime.load(blob[:-1])
    with pytest.raises(CorruptState, match="kind"):
        _engine.Likelihood.load(blob)
    params = _engine.LikelihoodParams(
        learning_period=10, estimation_samples=10, historic_window_size=100, reestimation_period=10, tail="one-sided"
    )
    likelihood = _engine.Likelihood(params)
    with pytest.raises(CorruptState, match="kind"):
        Artime.load(likelihood.save())


def test_repr(taxi):
    detector = nab_detector(taxi)
    detector.handle(taxi[0])
    assert repr(detector) == f"Artime(dmin={min(taxi)!r}, dmax={max(taxi)!r}, n_records=10320, records_seen=1)"
