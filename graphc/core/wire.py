"""Protocol-buffer wire format, the little of it graphc writes by hand: varints and fields.

TensorFlow's bundle protos (BundleHeaderProto, BundleEntryProto) are not among
TensorBoard's generated classes, and the default checkpoint format must work
without the optional `tensorboard` package, so `train/tensor_bundle` encodes and
decodes their few fields by hand with these helpers; `ops/summary_serialization`
encodes histogram Summaries with them (fetched every step: no message objects). Malformed
input is a ValueError saying what is wrong; callers name the file.
"""

from __future__ import annotations

VARINT = 0
FIXED64 = 1
LENGTH_DELIMITED = 2
FIXED32 = 5
_MAX_VARINT_BYTES = 10
_ONE_BYTE = [bytes((value,)) for value in range(0x80)]


def encode_varint(value: int) -> bytes:
    """`value` as a base-128 varint; negative values as their 64-bit two's complement, as protobuf does."""
    if 0 <= value < 0x80:  # one byte: field keys and short lengths, most of what graphc writes
        return _ONE_BYTE[value]
    if 0 < value < 0x4000:  # two: lengths up to 16 KB (a histogram's packed arrays)
        return bytes((value & 0x7F | 0x80, value >> 7))
    value &= (1 << 64) - 1
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def decode_varint(data, position: int) -> tuple:
    """(value, position after it) of the varint at `position` of `data`."""
    value = 0
    for index in range(_MAX_VARINT_BYTES):
        if position + index >= len(data):
            raise ValueError(f"a varint at byte {position} runs past the end")
        byte = data[position + index]
        value |= (byte & 0x7F) << (7 * index)
        if byte < 0x80:
            return value, position + index + 1
    raise ValueError(f"a varint at byte {position} is longer than {_MAX_VARINT_BYTES} bytes")


def signed64(value: int) -> int:
    """A decoded varint read as protobuf's int64."""
    return value - (1 << 64) if value >= 1 << 63 else value


def varint_field(number: int, value: int) -> bytes:
    """A varint field (int32, int64, enum, bool); protobuf 3 leaves out zeros, and so does this."""
    return encode_varint(number << 3 | VARINT) + encode_varint(value) if value else b""


def fixed32_field(number: int, value: int) -> bytes:
    return encode_varint(number << 3 | FIXED32) + value.to_bytes(4, "little")


def bytes_field(number: int, payload: bytes) -> bytes:
    """A length-delimited field: a string, bytes or an embedded message."""
    return encode_varint(number << 3 | LENGTH_DELIMITED) + encode_varint(len(payload)) + payload


def fields(data: bytes):
    """Yields (field number, wire type, value) of the message `data`: an int, or bytes if length-delimited."""
    position = 0
    while position < len(data):
        key, position = decode_varint(data, position)
        number, wire_type = key >> 3, key & 7
        if wire_type == VARINT:
            value, position = decode_varint(data, position)
        elif wire_type in (FIXED32, FIXED64):
            width = 4 if wire_type == FIXED32 else 8
            if position + width > len(data):
                raise ValueError(f"field {number} runs past the end")
            value, position = int.from_bytes(data[position:position + width], "little"), position + width
        elif wire_type == LENGTH_DELIMITED:
            length, position = decode_varint(data, position)
            if position + length > len(data):
                raise ValueError(f"field {number} of {length} bytes runs past the end")
            value, position = bytes(data[position:position + length]), position + length
        else:
            raise ValueError(f"field {number} has the unsupported wire type {wire_type}")
        if number == 0:
            raise ValueError("a field is numbered 0")
        yield number, wire_type, value
