"""``nupic.data.field_meta``: the description of one field of a record (name, type, special role)."""

from __future__ import annotations

from typing import NamedTuple


class FieldMetaType:
    """NuPIC's field types."""

    string = "string"
    datetime = "datetime"
    integer = "int"
    float = "float"
    boolean = "bool"
    list = "list"
    sdr = "sdr"

    @classmethod
    def isValid(cls, fieldDataType: str) -> bool:
        return fieldDataType in (cls.string, cls.datetime, cls.integer, cls.float, cls.boolean, cls.list, cls.sdr)


class FieldMetaSpecial:
    """NuPIC's special field roles (the one-letter flags of its CSV headers)."""

    none = ""
    reset = "R"
    sequence = "S"
    timestamp = "T"
    category = "C"
    learning = "L"

    @classmethod
    def isValid(cls, attr: str) -> bool:
        return attr in (cls.none, cls.reset, cls.sequence, cls.timestamp, cls.category, cls.learning)


class FieldMetaInfo(NamedTuple):
    """One field: `name`, `type` (a FieldMetaType) and `special` (a FieldMetaSpecial)."""

    name: str
    type: str
    special: str
