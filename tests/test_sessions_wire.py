"""The wire format (docs/sessions.md): byte-exact examples, errors with offsets, properties."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from udpsem.programs.sessions import (
    Ack,
    Cookie,
    CookieAck,
    Data,
    HandshakeOther,
    Init,
    InitAck,
    Inl,
    Inr,
    Message,
    MessageTooLarge,
    Serializer,
    Some,
    WireError,
    bool_serializer,
    bytes_serializer,
    decode_message,
    encode_message,
    int_serializer,
    list_serializer,
    option_serializer,
    prod_serializer,
    string_serializer,
    sum_serializer,
    unit_serializer,
)
from udpsem.programs.sessions.wire import INT_MAX, INT_MIN

STR_PAIR = prod_serializer(string_serializer, string_serializer)

B3_TABLE: list[tuple[Message, bytes]] = [
    (Init(), b"L_4_INIT0"),
    (InitAck(12345), b"L_8_INIT-ACK12345"),
    (Cookie(12345), b"L_6_COOKIE12345"),
    (CookieAck(), b"L_10_COOKIE-ACK0"),
    (Ack(3), b"R_L_3"),
    (Data(0, string_serializer.encode("Hello")), b"R_R_1_0Hello"),
    (Data(12, STR_PAIR.encode(("ab", "cd"))), b"R_R_2_122_abcd"),
]


@pytest.mark.parametrize(("msg", "wire"), B3_TABLE)
def test_b3_examples_byte_exact(msg: Message, wire: bytes) -> None:
    assert encode_message(msg) == wire
    assert decode_message(wire) == msg


def test_b3_data_payload_decodes_with_the_users_serializer() -> None:
    msg = decode_message(b"R_R_2_122_abcd")
    assert isinstance(msg, Data) and STR_PAIR.decode(msg.payload) == ("ab", "cd")


@pytest.mark.parametrize(("ser", "value", "wire"), [
    (int_serializer, 0, b"0"),
    (int_serializer, 42, b"42"),
    (int_serializer, -7, b"-7"),
    (int_serializer, INT_MAX, b"4611686018427387903"),
    (int_serializer, INT_MIN, b"-4611686018427387904"),
    (string_serializer, "", b""),
    (string_serializer, "é_", "é_".encode()),
    (bytes_serializer, b"\x00_", b"\x00_"),
    (bool_serializer, True, b"1"),
    (bool_serializer, False, b"0"),
    (unit_serializer, None, b""),
    (prod_serializer(int_serializer, string_serializer), (12, "x_y"), b"2_12x_y"),
    (prod_serializer(STR_PAIR, unit_serializer), (("a", "b"), None), b"4_1_ab"),
    (prod_serializer(string_serializer, int_serializer), ("é", 1), b"2_\xc3\xa91"),
    (sum_serializer(int_serializer, string_serializer), Inl(5), b"L_5"),
    (sum_serializer(int_serializer, string_serializer), Inr("5"), b"R_5"),
    (option_serializer(int_serializer), None, b"L_"),
    (option_serializer(int_serializer), Some(3), b"R_3"),
    (option_serializer(option_serializer(int_serializer)), Some(None), b"R_L_"),
    (option_serializer(unit_serializer), Some(None), b"R_"),
    (list_serializer(string_serializer), (), b""),
    (list_serializer(string_serializer), ("ab", "", "c_d"), b"2_ab0_3_c_d"),
    (list_serializer(list_serializer(int_serializer)), ((1,), ()), b"3_1_10_"),
])
def test_combinator_examples(ser: Serializer[Any], value: Any, wire: bytes) -> None:
    assert ser.encode(value) == wire
    assert ser.decode(wire) == value


def test_list_encode_accepts_a_list() -> None:
    assert list_serializer(int_serializer).encode([1, 2]) == b"1_11_2"


@pytest.mark.parametrize(("ser", "wire", "offset", "what"), [
    (int_serializer, b"", 0, "found nothing"),
    (int_serializer, b"12a", 2, "decimal digit"),
    (int_serializer, b"+1", 0, "decimal digit"),
    (int_serializer, b"007", 0, "leading zero"),
    (int_serializer, b"-0", 0, "'-0'"),
    (int_serializer, b"-", 1, "found nothing"),
    (int_serializer, b"4611686018427387904", 0, "63-bit"),
    (int_serializer, b"9" * 5000, 0, "digits"),
    (int_serializer, "١".encode(), 0, "decimal digit"),  # a non-ASCII digit
    (bool_serializer, b"true", 0, "'1' or '0'"),
    (unit_serializer, b"x", 0, "no bytes"),
    (string_serializer, b"ab\xff", 2, "UTF-8"),
    (STR_PAIR, b"ab", 0, "missing '_'"),
    (STR_PAIR, b"5_ab", 0, "exceeds"),
    (STR_PAIR, b"x_ab", 0, "digit"),
    (STR_PAIR, b"_ab", 0, "found nothing"),
    (sum_serializer(unit_serializer, unit_serializer), b"X_", 0, "'L_' or 'R_'"),
    (sum_serializer(unit_serializer, unit_serializer), b"L", 0, "'L_' or 'R_'"),
    (option_serializer(int_serializer), b"L_1", 2, "None has no payload"),
    (list_serializer(int_serializer), b"1_11_", 3, "exceeds"),
    (list_serializer(int_serializer), b"1_11", 3, "missing '_'"),
])
def test_decode_errors_name_what_and_where(ser: Serializer[Any], wire: bytes, offset: int,
                                           what: str) -> None:
    with pytest.raises(WireError, match=what) as info:
        ser.decode(wire)
    assert info.value.offset == offset
    assert f"offset {offset}" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_nested_error_offsets_are_absolute() -> None:
    with pytest.raises(WireError) as info:
        decode_message(b"R_R_2_1x_abcd")  # the DATA seq "1x" has a bad digit at byte 7
    assert info.value.offset == 7
    with pytest.raises(WireError) as info:
        prod_serializer(int_serializer, list_serializer(bool_serializer)).decode(b"1_51_11_2")
    assert info.value.offset == 8


@pytest.mark.parametrize(("ser", "value"), [
    (int_serializer, True),
    (int_serializer, "1"),
    (int_serializer, 2**62),
    (string_serializer, b"x"),
    (string_serializer, "\ud800"),
    (bool_serializer, 1),
    (unit_serializer, ()),
    (STR_PAIR, ("a",)),
    (sum_serializer(int_serializer, int_serializer), 3),
    (option_serializer(int_serializer), 3),
    (list_serializer(int_serializer), {1}),
])
def test_encode_rejects_values_of_the_wrong_shape(ser: Serializer[Any], value: Any) -> None:
    with pytest.raises(WireError):
        ser.encode(value)


@pytest.mark.parametrize(("wire", "msg"), [
    (b"L_4_INIT7", HandshakeOther(b"INIT", 7)),  # the server only takes ("INIT", 0) as INIT
    (b"L_3_FOO1", HandshakeOther(b"FOO", 1)),
    (b"L_10_COOKIE-ACK9", CookieAck(9)),
    (b"L_6_COOKIE-3", Cookie(-3)),
    (b"R_R_1_0", Data(0, b"")),
])
def test_other_well_formed_messages_round_trip(wire: bytes, msg: Message) -> None:
    assert decode_message(wire) == msg
    assert encode_message(msg) == wire


@pytest.mark.parametrize("wire", [b"", b"L_", b"R_", b"R_X_1", b"R_L_", b"L_4_INIT", b"Q_1",
                                  b"R_R_", b"R_R_1_", b"L_5_INIT0"])
def test_malformed_messages(wire: bytes) -> None:
    with pytest.raises(WireError):
        decode_message(wire)


def test_message_must_fit_in_one_datagram() -> None:
    assert len(encode_message(Data(0, b"x" * 65500))) == 65507
    with pytest.raises(MessageTooLarge, match="65507"):
        encode_message(Data(0, b"x" * 65501))
    with pytest.raises(MessageTooLarge):
        encode_message(Data(10, b"x" * 65500))  # a longer seq makes it one byte too big


# ------------------------------------------------------------------------ properties

INTS = st.integers(min_value=INT_MIN, max_value=INT_MAX)
Pair = tuple[Serializer[Any], st.SearchStrategy[Any]]

LEAVES: st.SearchStrategy[Pair] = st.sampled_from([
    (int_serializer, INTS),
    # A small alphabet rich in the format's own symbols finds parsing bugs faster.
    (string_serializer, st.text(alphabet="ab_0129-LRé😀\x00", max_size=8)),
    (bytes_serializer, st.binary(max_size=8)),
    (bool_serializer, st.booleans()),
    (unit_serializer, st.none()),
])


def _extend(children: st.SearchStrategy[Pair]) -> st.SearchStrategy[Pair]:
    def prod(p: tuple[Pair, Pair]) -> Pair:
        (sa, va), (sb, vb) = p
        return prod_serializer(sa, sb), st.tuples(va, vb)

    def sum_(p: tuple[Pair, Pair]) -> Pair:
        (sa, va), (sb, vb) = p
        return sum_serializer(sa, sb), st.one_of(va.map(Inl), vb.map(Inr))

    def opt(c: Pair) -> Pair:
        return option_serializer(c[0]), st.one_of(st.none(), c[1].map(Some))

    def lst(c: Pair) -> Pair:
        return list_serializer(c[0]), st.lists(c[1], max_size=4).map(tuple)

    return st.one_of(st.tuples(children, children).map(prod),
                     st.tuples(children, children).map(sum_),
                     children.map(opt), children.map(lst))


SERIALIZERS: st.SearchStrategy[Pair] = st.recursive(LEAVES, _extend, max_leaves=6)


@settings(max_examples=400)
@given(st.data())
def test_round_trip(data: st.DataObject) -> None:
    ser, values = data.draw(SERIALIZERS)
    v = data.draw(values)
    assert ser.decode(ser.encode(v)) == v


@settings(max_examples=400)
@given(st.data())
def test_injective(data: st.DataObject) -> None:
    ser, values = data.draw(SERIALIZERS)
    v1, v2 = data.draw(values), data.draw(values)
    assert (ser.encode(v1) == ser.encode(v2)) == (v1 == v2)


@settings(max_examples=400)
@given(st.data(), st.binary(max_size=24))
def test_decode_is_total_on_bytes_and_canonical(data: st.DataObject, junk: bytes) -> None:
    """Any bytes either decode to a value that re-encodes to the same bytes, or raise
    `WireError`: decoding never crashes otherwise, and never accepts two spellings."""
    ser, values = data.draw(SERIALIZERS)
    wire = data.draw(st.one_of(st.just(junk), values.map(ser.encode).map(lambda b: b + junk)))
    try:
        v = ser.decode(wire)
    except WireError as e:
        assert e.offset is not None and 0 <= e.offset <= len(wire)
        return
    assert ser.encode(v) == wire


MESSAGES: st.SearchStrategy[Message] = st.one_of(
    st.just(Init()), INTS.map(InitAck), INTS.map(Cookie), INTS.map(CookieAck),
    st.builds(HandshakeOther, st.binary(max_size=6).filter(
        lambda t: t not in (b"INIT", b"INIT-ACK", b"COOKIE", b"COOKIE-ACK")), INTS),
    INTS.map(Ack), st.builds(Data, INTS, st.binary(max_size=12)))


@given(MESSAGES, MESSAGES)
def test_messages_round_trip_and_are_injective(m1: Message, m2: Message) -> None:
    assert decode_message(encode_message(m1)) == m1
    assert (encode_message(m1) == encode_message(m2)) == (m1 == m2)


@given(st.binary(max_size=32))
def test_message_decode_is_total(wire: bytes) -> None:
    try:
        msg = decode_message(wire)
    except WireError:
        return
    assert encode_message(msg) == wire
