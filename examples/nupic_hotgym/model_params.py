"""OPF model parameters for the recreation-centre energy model, in NuPIC's params-dict format.

The values are those of NuPIC's hotgym anomaly tutorial (one_gym): a scalar encoder for the energy reading,
time of day and weekend from the timestamp, and a classifier-only scalar encoder that gives the SDR
classifier finer buckets than the spatial pooler sees.
"""

MODEL_PARAMS = {
    "model": "HTMPrediction",
    "version": 1,
    "aggregationInfo": {
        "years": 0, "months": 0, "weeks": 0, "days": 0, "hours": 0, "minutes": 0, "seconds": 0,
        "milliseconds": 0, "microseconds": 0, "fields": [],
    },
    "predictAheadTime": None,
    "modelParams": {
        "inferenceType": "TemporalAnomaly",
        "sensorParams": {
            "verbosity": 0,
            "sensorAutoReset": None,
            "encoders": {
                "kw_energy_consumption": {
                    "type": "ScalarEncoder", "fieldname": "kw_energy_consumption", "name": "kw_energy_consumption",
                    "minval": 0.0, "maxval": 53.0, "n": 29, "w": 21, "clipInput": True,
                },
                "_classifierInput": {
                    "type": "ScalarEncoder", "fieldname": "kw_energy_consumption", "name": "_classifierInput",
                    "classifierOnly": True, "minval": 0.0, "maxval": 53.0, "n": 115, "w": 21, "clipInput": True,
                },
                "timestamp_timeOfDay": {
                    "type": "DateEncoder", "fieldname": "timestamp", "name": "timestamp",
                    "timeOfDay": (21, 6.090344152692538),
                },
                "timestamp_weekend": {
                    "type": "DateEncoder", "fieldname": "timestamp", "name": "timestamp", "weekend": (21, 1),
                },
                "timestamp_dayOfWeek": None,
            },
        },
        "spEnable": True,
        "spParams": {
            "spVerbosity": 0, "spatialImp": "cpp", "globalInhibition": 1, "columnCount": 2048, "inputWidth": 0,
            "numActiveColumnsPerInhArea": 40, "seed": 1956, "potentialPct": 0.8, "synPermConnected": 0.1,
            "synPermActiveInc": 0.05, "synPermInactiveDec": 0.08568228006654939, "boostStrength": 2.0,
        },
        "tmEnable": True,
        "tmParams": {
            "verbosity": 0, "columnCount": 2048, "cellsPerColumn": 32, "inputWidth": 2048, "seed": 1960,
            "temporalImp": "cpp", "newSynapseCount": 20, "maxSynapsesPerSegment": 32, "maxSegmentsPerCell": 128,
            "initialPerm": 0.21, "permanenceInc": 0.1, "permanenceDec": 0.1, "globalDecay": 0.0, "maxAge": 0,
            "minThreshold": 10, "activationThreshold": 12, "outputType": "normal", "pamLength": 1,
        },
        "clParams": {
            "regionName": "SDRClassifierRegion", "verbosity": 0, "alpha": 0.01962508905154251, "steps": "1",
        },
        "anomalyParams": {"anomalyCacheRecords": None, "autoDetectThreshold": None, "autoDetectWaitRecords": None},
        "trainSPNetOnlyIfRequested": False,
    },
}  # fmt: skip
