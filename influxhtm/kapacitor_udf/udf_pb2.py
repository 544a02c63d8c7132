"""Kapacitor UDF protocol messages (package ``agent``), built at import time without protoc.

The descriptor below mirrors ``udf.proto`` beside this module (the documented source of truth; a test
checks that both agree). It is registered in a private descriptor pool, so it never clashes with another
copy of Kapacitor's ``udf.proto`` loaded in the same interpreter, and the message classes work with every
protobuf runtime from 4.21 on (python, cpp and upb backends).
"""

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper

_PACKAGE = "agent"
_FDP = descriptor_pb2.FieldDescriptorProto
_SCALARS = {
    "bool": _FDP.TYPE_BOOL,
    "int64": _FDP.TYPE_INT64,
    "double": _FDP.TYPE_DOUBLE,
    "string": _FDP.TYPE_STRING,
    "bytes": _FDP.TYPE_BYTES,
}

_ENUMS = {
    "EdgeType": [("STREAM", 0), ("BATCH", 1)],
    "ValueType": [("BOOL", 0), ("INT", 1), ("DOUBLE", 2), ("STRING", 3), ("DURATION", 4)],
}


def _field(name, number, kind, *, repeated=False, oneof=None):
    return {"name": name, "number": number, "kind": kind, "repeated": repeated, "oneof": oneof}


def _map(name, number, key, value):
    return {"name": name, "number": number, "map": (key, value)}


_REQUEST_CASES = [("info", 1, "InfoRequest"), ("init", 2, "InitRequest"),
                  ("keepalive", 3, "KeepaliveRequest"), ("snapshot", 4, "SnapshotRequest"),
                  ("restore", 5, "RestoreRequest"), ("begin", 16, "BeginBatch"), ("point", 17, "Point"),
                  ("end", 18, "EndBatch")]
_RESPONSE_CASES = [("info", 1, "InfoResponse"), ("init", 2, "InitResponse"),
                   ("keepalive", 3, "KeepaliveResponse"), ("snapshot", 4, "SnapshotResponse"),
                   ("restore", 5, "RestoreResponse"), ("error", 6, "ErrorResponse"),
                   ("begin", 16, "BeginBatch"), ("point", 17, "Point"), ("end", 18, "EndBatch")]

# Message name -> fields, in the order of udf.proto.
_MESSAGES = {
    "Request": [_field(n, num, kind, oneof="message") for n, num, kind in _REQUEST_CASES],
    "Response": [_field(n, num, kind, oneof="message") for n, num, kind in _RESPONSE_CASES],
    "InfoRequest": [],
    "InfoResponse": [
        _field("wants", 1, "EdgeType"),
        _field("provides", 2, "EdgeType"),
        _map("options", 3, "string", "OptionInfo"),
    ],
    "OptionInfo": [_field("valueTypes", 1, "ValueType", repeated=True)],
    "InitRequest": [
        _field("options", 1, "Option", repeated=True),
        _field("taskID", 2, "string"),
        _field("nodeID", 3, "string"),
    ],
    "Option": [
        _field("name", 1, "string"),
        _field("values", 2, "OptionValue", repeated=True),
    ],
    "OptionValue": [
        _field("type", 1, "ValueType"),
        _field("boolValue", 2, "bool", oneof="value"),
        _field("intValue", 3, "int64", oneof="value"),
        _field("doubleValue", 4, "double", oneof="value"),
        _field("stringValue", 5, "string", oneof="value"),
        _field("durationValue", 6, "int64", oneof="value"),
    ],
    "InitResponse": [_field("success", 1, "bool"), _field("error", 2, "string")],
    "SnapshotRequest": [],
    "SnapshotResponse": [_field("snapshot", 1, "bytes")],
    "RestoreRequest": [_field("snapshot", 1, "bytes")],
    "RestoreResponse": [_field("success", 1, "bool"), _field("error", 2, "string")],
    "KeepaliveRequest": [_field("time", 1, "int64")],
    "KeepaliveResponse": [_field("time", 1, "int64")],
    "ErrorResponse": [_field("error", 1, "string")],
    "BeginBatch": [
        _field("name", 1, "string"),
        _field("group", 2, "string"),
        _map("tags", 3, "string", "string"),
        _field("size", 4, "int64"),
        _field("byName", 5, "bool"),
    ],
    "Point": [
        _field("time", 1, "int64"),
        _field("name", 2, "string"),
        _field("database", 3, "string"),
        _field("retentionPolicy", 4, "string"),
        _field("group", 5, "string"),
        _field("dimensions", 6, "string", repeated=True),
        _map("tags", 7, "string", "string"),
        _map("fieldsDouble", 8, "string", "double"),
        _map("fieldsInt", 9, "string", "int64"),
        _map("fieldsString", 10, "string", "string"),
        _field("byName", 11, "bool"),
        _map("fieldsBool", 12, "string", "bool"),
    ],
    "EndBatch": [
        _field("name", 1, "string"),
        _field("group", 2, "string"),
        _field("tmax", 3, "int64"),
        _map("tags", 4, "string", "string"),
        _field("byName", 5, "bool"),
    ],
}


def _set_type(field_proto, kind):
    if kind in _SCALARS:
        field_proto.type = _SCALARS[kind]
    elif kind in _ENUMS:
        field_proto.type = _FDP.TYPE_ENUM
        field_proto.type_name = f".{_PACKAGE}.{kind}"
    elif kind in _MESSAGES:
        field_proto.type = _FDP.TYPE_MESSAGE
        field_proto.type_name = f".{_PACKAGE}.{kind}"
    else:
        raise ValueError(f"unknown field type {kind!r}")


def _map_entry_name(field_name):
    """protoc's name for a map field's entry type: ``fieldsDouble`` -> ``FieldsDoubleEntry``."""
    return "".join(part[:1].upper() + part[1:] for part in field_name.split("_")) + "Entry"


def _build_file():
    file_proto = descriptor_pb2.FileDescriptorProto(name="udf.proto", package=_PACKAGE, syntax="proto3")
    for enum_name, values in _ENUMS.items():
        enum_proto = file_proto.enum_type.add(name=enum_name)
        for value_name, number in values:
            enum_proto.value.add(name=value_name, number=number)
    for message_name, fields in _MESSAGES.items():
        message_proto = file_proto.message_type.add(name=message_name)
        oneofs = []
        for spec in fields:
            field_proto = message_proto.field.add(name=spec["name"], number=spec["number"])
            if "map" in spec:
                key, value = spec["map"]
                entry_name = _map_entry_name(spec["name"])
                entry = message_proto.nested_type.add(name=entry_name)
                entry.options.map_entry = True
                for entry_field_name, number, kind in (("key", 1, key), ("value", 2, value)):
                    entry_field = entry.field.add(name=entry_field_name, number=number, label=_FDP.LABEL_OPTIONAL)
                    _set_type(entry_field, kind)
                field_proto.label = _FDP.LABEL_REPEATED
                field_proto.type = _FDP.TYPE_MESSAGE
                field_proto.type_name = f".{_PACKAGE}.{message_name}.{entry_name}"
                continue
            field_proto.label = _FDP.LABEL_REPEATED if spec["repeated"] else _FDP.LABEL_OPTIONAL
            _set_type(field_proto, spec["kind"])
            if spec["oneof"] is not None:
                if spec["oneof"] not in oneofs:
                    oneofs.append(spec["oneof"])
                    message_proto.oneof_decl.add(name=spec["oneof"])
                field_proto.oneof_index = oneofs.index(spec["oneof"])
    return file_proto


def _message_class(message_descriptor):
    get_message_class = getattr(message_factory, "GetMessageClass", None)
    if get_message_class is not None:
        return get_message_class(message_descriptor)
    return message_factory.MessageFactory(message_descriptor.file.pool).GetPrototype(message_descriptor)


_pool = descriptor_pool.DescriptorPool()
_pool.AddSerializedFile(_build_file().SerializeToString())
DESCRIPTOR = _pool.FindFileByName("udf.proto")

EdgeType = EnumTypeWrapper(DESCRIPTOR.enum_types_by_name["EdgeType"])
ValueType = EnumTypeWrapper(DESCRIPTOR.enum_types_by_name["ValueType"])
STREAM = EdgeType.Value("STREAM")
BATCH = EdgeType.Value("BATCH")
BOOL = ValueType.Value("BOOL")
INT = ValueType.Value("INT")
DOUBLE = ValueType.Value("DOUBLE")
STRING = ValueType.Value("STRING")
DURATION = ValueType.Value("DURATION")

Request = _message_class(DESCRIPTOR.message_types_by_name["Request"])
Response = _message_class(DESCRIPTOR.message_types_by_name["Response"])
InfoRequest = _message_class(DESCRIPTOR.message_types_by_name["InfoRequest"])
InfoResponse = _message_class(DESCRIPTOR.message_types_by_name["InfoResponse"])
OptionInfo = _message_class(DESCRIPTOR.message_types_by_name["OptionInfo"])
InitRequest = _message_class(DESCRIPTOR.message_types_by_name["InitRequest"])
Option = _message_class(DESCRIPTOR.message_types_by_name["Option"])
OptionValue = _message_class(DESCRIPTOR.message_types_by_name["OptionValue"])
InitResponse = _message_class(DESCRIPTOR.message_types_by_name["InitResponse"])
SnapshotRequest = _message_class(DESCRIPTOR.message_types_by_name["SnapshotRequest"])
SnapshotResponse = _message_class(DESCRIPTOR.message_types_by_name["SnapshotResponse"])
RestoreRequest = _message_class(DESCRIPTOR.message_types_by_name["RestoreRequest"])
RestoreResponse = _message_class(DESCRIPTOR.message_types_by_name["RestoreResponse"])
KeepaliveRequest = _message_class(DESCRIPTOR.message_types_by_name["KeepaliveRequest"])
KeepaliveResponse = _message_class(DESCRIPTOR.message_types_by_name["KeepaliveResponse"])
ErrorResponse = _message_class(DESCRIPTOR.message_types_by_name["ErrorResponse"])
BeginBatch = _message_class(DESCRIPTOR.message_types_by_name["BeginBatch"])
Point = _message_class(DESCRIPTOR.message_types_by_name["Point"])
EndBatch = _message_class(DESCRIPTOR.message_types_by_name["EndBatch"])
