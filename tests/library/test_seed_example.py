"""The 2016 seed's own example, run as written against a real InfluxDB (only connection args adapted)."""

import datetime

import pytest

from influxhtm.client import InfluxHtmClient
from influxhtm.htm import ModelFactory, anomaly_params
from influxhtm.results import HtmModelResults
from influxhtm.sensor import Sensor
from influxhtm.sensor_model import HtmSensorModel

UTC = datetime.timezone.utc


@pytest.fixture
def seed_client(influxdb_server, tmp_path):
    client = InfluxHtmClient(
        host=influxdb_server.host,
        port=influxdb_server.port,
        database="seed",
        create_database=True,
        model_dir=tmp_path / "models",
    )
    yield client
    client.drop_database("seed")


def test_seed_example_as_written(seed_client, influxdb_server):
    server, model_dir = influxdb_server, seed_client.model_dir
    model = ModelFactory.create(anomaly_params(0.0, 0.01))
    model.enableInference({"predictedField": "value"})
    timestamp, value = datetime.datetime.now(), 0.0030300303030303

    # ---- the seed, verbatim except for the connection arguments of its first line ----
    client = InfluxHtmClient(host=server.host, port=server.port, database="seed", model_dir=model_dir)
    sensors = client.listSensors()
    motionSensor = client.getSensor(measurement="motion", component="Front+Door")
    htmModel = motionSensor.getModel()
    motionSensor.write([{"time": datetime.datetime.now(), "value": 0.0030300303030303}])
    result = model.run({"timestamp": timestamp, "value": value})
    htmModel.write(result)
    (dataStarts, dataEnds) = motionSensor.getTimeBounds()
    firstData = motionSensor.getData(since=dataStarts, limit=1000)
    lastData = motionSensor.getData(until=dataEnds, limit=1000)
    tenMinMeanAggregated = motionSensor.getData(aggregation={"method": "mean", "period": "10m"})
    htmResults = htmModel.getResults()
    # ---- end of the seed ----

    assert sensors == []  # an empty database has no sensors yet
    assert client.listSensors() == [motionSensor]
    assert isinstance(htmModel, HtmSensorModel)
    assert dataStarts == dataEnds and dataStarts.tzinfo is not None
    assert [p["value"] for p in firstData] == [0.0030300303030303]
    assert lastData == firstData
    assert [p["value"] for p in tenMinMeanAggregated] == [pytest.approx(0.0030300303030303)]
    assert len(htmResults) == 1 and isinstance(htmResults[0], HtmModelResults)
    assert htmResults[0].value == pytest.approx(value)
    assert htmResults[0].raw_score == pytest.approx(float(result.inferences["anomalyScore"]))
    assert htmResults[0].anomaly_likelihood is not None and htmResults[0].anomaly_score is not None


def test_seed_flow_on_a_day_of_data(seed_client):
    sensor = seed_client.getSensor(measurement="motion", component="Front+Door")
    start = datetime.datetime(2024, 3, 1)
    points = [{"time": start + datetime.timedelta(minutes=i), "value": (i % 60) / 600.0} for i in range(1440)]
    assert sensor.write(points) == 1440

    (dataStarts, dataEnds) = sensor.getTimeBounds()
    assert dataStarts == start.replace(tzinfo=UTC)
    assert dataEnds == (start + datetime.timedelta(minutes=1439)).replace(tzinfo=UTC)

    firstData = sensor.getData(since=dataStarts, limit=1000)
    assert [p["time"] for p in firstData] == [p["time"].replace(tzinfo=UTC) for p in points[:1000]]
    lastData = sensor.getData(until=dataEnds, limit=1000)  # the LAST 1000, oldest first
    assert [p["time"] for p in lastData] == [p["time"].replace(tzinfo=UTC) for p in points[-1000:]]
    assert [p["value"] for p in lastData] == [p["value"] for p in points[-1000:]]

    tenMinMeanAggregated = sensor.getData(aggregation={"method": "mean", "period": "10m"})
    assert len(tenMinMeanAggregated) == 144
    assert tenMinMeanAggregated[0]["value"] == pytest.approx(sum(range(10)) / 10 / 600.0)

    model = ModelFactory.create(anomaly_params(0.0, 0.1))
    model.enableInference({"predictedField": "value"})
    htmModel = sensor.getModel()
    for point in points[:50]:
        htmModel.write(model.run({"timestamp": point["time"], "value": point["value"]}))
    htmResults = htmModel.getResults()
    assert [r.time for r in htmResults] == [p["time"].replace(tzinfo=UTC) for p in points[:50]]
    assert htmResults[0].rawInput == {"timestamp": htmResults[0].time, "value": points[0]["value"]}
    assert htmResults[0].inferences["anomalyScore"] == htmResults[0].raw_score
    assert htmModel.getResults(until=htmResults[-1].time, limit=5) == htmResults[-5:]


def test_pep8_names_are_the_camelcase_aliases():
    assert InfluxHtmClient.listSensors is InfluxHtmClient.list_sensors
    assert InfluxHtmClient.getSensor is InfluxHtmClient.get_sensor
    assert Sensor.getTimeBounds is Sensor.get_time_bounds
    assert Sensor.getData is Sensor.get_data
    assert Sensor.getModel is Sensor.get_model
    assert HtmSensorModel.getResults is HtmSensorModel.get_results


def test_constructor_does_no_network_io():
    client = InfluxHtmClient(host="127.0.0.1", port=1, database="nowhere")  # nothing listens on port 1
    sensor = client.getSensor("motion", "Front+Door")
    assert sensor.tags == {"component": "Front+Door"} and sensor.database == "nowhere"
