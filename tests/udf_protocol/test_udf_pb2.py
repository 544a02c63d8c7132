"""The runtime-built message classes agree with udf.proto and with Kapacitor's wire format."""

import re
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import FieldDescriptor

import influxhtm.kapacitor_udf
from influxhtm.kapacitor_udf import udf_pb2

PROTO_PATH = Path(influxhtm.kapacitor_udf.__file__).with_name("udf.proto")

_SCALAR_NAMES = {
    FieldDescriptor.TYPE_BOOL: "bool",
    FieldDescriptor.TYPE_INT64: "int64",
    FieldDescriptor.TYPE_DOUBLE: "double",
    FieldDescriptor.TYPE_STRING: "string",
    FieldDescriptor.TYPE_BYTES: "bytes",
}


def parse_proto(text):
    """A small parser for the subset of proto3 that udf.proto uses: top-level enums and messages with plain,
    repeated, map and oneof fields. Returns (package, enums, messages); each field is
    (name, number, type text, label, oneof name)."""
    text = re.sub(r"//[^\n]*", "", text)
    package = re.search(r"\bpackage\s+(\w+)\s*;", text).group(1)
    enums = {
        name: {value: int(number) for value, number in re.findall(r"(\w+)\s*=\s*(\d+)\s*;", body)}
        for name, body in re.findall(r"\benum\s+(\w+)\s*\{([^}]*)\}", text)
    }
    messages = {}
    for name, body in re.findall(r"\bmessage\s+(\w+)\s*\{((?:[^{}]|\{[^{}]*\})*)\}", text):
        fields = {}
        oneof_bodies = re.findall(r"\boneof\s+(\w+)\s*\{([^}]*)\}", body)
        plain_body = re.sub(r"\boneof\s+\w+\s*\{[^}]*\}", "", body)
        sections = [(None, plain_body)] + oneof_bodies
        for oneof, section in sections:
            for label, type_text, field_name, number in re.findall(
                r"(repeated\s+)?(map\s*<\s*\w+\s*,\s*\w+\s*>|\w+)\s+(\w+)\s*=\s*(\d+)\s*;", section
            ):
                fields[field_name] = (
                    int(number),
                    re.sub(r"\s+", "", type_text),
                    "repeated" if label else "single",
                    oneof,
                )
        messages[name] = fields
    return package, enums, messages


def runtime_type_text(field):
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        key, value = (runtime_type_text(f) for f in field.message_type.fields)
        return f"map<{key},{value}>"
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return field.message_type.name
    if field.type == FieldDescriptor.TYPE_ENUM:
        return field.enum_type.name
    return _SCALAR_NAMES[field.type]


def runtime_fields(message):
    fields = {}
    for field in message.fields:
        is_map = field.message_type is not None and field.message_type.GetOptions().map_entry
        if hasattr(field, "is_repeated"):  # protobuf >= 5.27 (the label attribute is gone in 7.x)
            repeated = field.is_repeated and not is_map
        else:
            repeated = field.label == FieldDescriptor.LABEL_REPEATED and not is_map
        oneof = field.containing_oneof.name if field.containing_oneof is not None else None
        fields[field.name] = (field.number, runtime_type_text(field), "repeated" if repeated else "single", oneof)
    return fields


def test_runtime_descriptor_matches_the_proto_file():
    package, enums, messages = parse_proto(PROTO_PATH.read_text())
    descriptor = udf_pb2.DESCRIPTOR
    assert descriptor.package == package == "agent"
    file_proto = descriptor_pb2.FileDescriptorProto()
    descriptor.CopyToProto(file_proto)
    assert file_proto.syntax == "proto3" and re.search(r'\bsyntax\s*=\s*"proto3"', PROTO_PATH.read_text())
    assert set(descriptor.enum_types_by_name) == set(enums)
    for name, values in enums.items():
        assert {v.name: v.number for v in descriptor.enum_types_by_name[name].values} == values, name
    assert set(descriptor.message_types_by_name) == set(messages)
    for name, fields in messages.items():
        assert runtime_fields(descriptor.message_types_by_name[name]) == fields, name


def test_parser_sees_every_message_of_the_proto_file():
    # Guards the comparison above against a parser that silently skips declarations.
    _package, enums, messages = parse_proto(PROTO_PATH.read_text())
    assert len(messages) == 19 and len(enums) == 2
    assert messages["Point"]["byName"] == (11, "bool", "single", None)
    assert messages["Point"]["fieldsBool"] == (12, "map<string,bool>", "single", None)
    assert messages["Request"]["point"] == (17, "Point", "single", "message")
    assert messages["OptionValue"]["durationValue"] == (6, "int64", "single", "value")
    assert messages["OptionInfo"]["valueTypes"] == (1, "ValueType", "repeated", None)


@pytest.mark.parametrize(
    "message, wire",
    [
        # Expected bytes derived by hand from the protobuf encoding rules and Kapacitor's field numbers.
        (udf_pb2.Response(keepalive=udf_pb2.KeepaliveResponse(time=5)), b"\x1a\x02\x08\x05"),
        (udf_pb2.Response(snapshot=udf_pb2.SnapshotResponse(snapshot=b"")), b"\x22\x00"),
        (udf_pb2.Response(error=udf_pb2.ErrorResponse(error="x")), b"\x32\x03\x0a\x01x"),
        (
            udf_pb2.Request(point=udf_pb2.Point(byName=True, fieldsBool={"b": True})),
            b"\x8a\x01\x09\x58\x01\x62\x05\x0a\x01b\x10\x01",
        ),
        (udf_pb2.Request(end=udf_pb2.EndBatch(tmax=1)), b"\x92\x01\x02\x18\x01"),
        (
            udf_pb2.InitRequest(
                options=[
                    udf_pb2.Option(name="d", values=[udf_pb2.OptionValue(type=udf_pb2.DURATION, durationValue=10)])
                ],
                taskID="t",
                nodeID="n",
            ),
            b"\x0a\x09\x0a\x01d\x12\x04\x08\x04\x30\x0a\x12\x01t\x1a\x01n",
        ),
    ],
    ids=["keepalive", "empty-snapshot", "error", "point-byName-fieldsBool", "end-batch", "init-duration-option"],
)
def test_wire_format(message, wire):
    assert message.SerializeToString() == wire
    assert type(message).FromString(wire) == message


def test_enum_constants():
    assert (udf_pb2.STREAM, udf_pb2.BATCH) == (0, 1)
    assert (udf_pb2.BOOL, udf_pb2.INT, udf_pb2.DOUBLE, udf_pb2.STRING, udf_pb2.DURATION) == (0, 1, 2, 3, 4)
    assert udf_pb2.EdgeType.Name(udf_pb2.BATCH) == "BATCH"


def test_setting_an_empty_case_marks_it_present():
    response = udf_pb2.Response(init=udf_pb2.InitResponse())
    assert response.WhichOneof("message") == "init"
    assert response.SerializeToString() == b"\x12\x00"
