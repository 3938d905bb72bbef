"""The byte-exact wire format of the reliable-sessions library (docs/sessions.md#wire-format).

Serializers are small composable objects, named after the Aneris source
(`int_serializer`, `prod_serializer`, `sum_serializer`, ...). Each has
`encode(value) -> bytes` and `decode(bytes) -> value`. Decoding works on a window
`[start, end)` of one outer buffer, so an error can name the absolute byte offset at
which the input is malformed.

Python representation of values (chosen so that every serializer is injective and
`decode(encode(v)) == v`):

* int: a Python `int` (not `bool`) in OCaml's 63-bit range `[-2**62, 2**62 - 1]`, written
  as canonical decimal text: `-` then digits for negatives (as OCaml's `string_of_int`),
  no `+`, no leading zeros, no `-0`. Decoding accepts exactly the canonical form, so
  decoding is injective too. The bound keeps the source's `int` type and keeps Python's
  big-int parsing out of reach of hostile input.
* string: a `str`, written as its UTF-8 bytes; bytes that are not UTF-8 are malformed.
  `bytes_serializer` is the raw-bytes variant (the OCaml string is really bytes).
* bool: `True`/`False` as `1`/`0`. unit: `None` as the empty string.
* pair: a 2-tuple. sum: `Inl(x)` / `Inr(x)`. option: `None` / `Some(x)` (a wrapper, so that
  `option(option(x))` and `option(unit)` stay injective). list: a tuple (hashable, so
  values can appear in protocol snapshots); `encode` accepts any list or tuple.

Lengths inside pairs and lists count bytes of the encoding, as OCaml's `String.length`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

from udpsem.hosts.values import UDP_PAYLOAD_MAX

T = TypeVar("T")
U = TypeVar("U")

INT_MIN: Final = -(2**62)
INT_MAX: Final = 2**62 - 1
_MAX_INT_DIGITS: Final = len(str(INT_MAX))


class WireError(ValueError):
    """Bytes that are not a valid encoding, or a value the serializer cannot encode.

    `offset` is the absolute byte offset in the buffer passed to `decode` (None for
    encoding errors).
    """

    def __init__(self, what: str, offset: int | None = None) -> None:
        self.what = what
        self.offset = offset
        super().__init__(what if offset is None else f"{what} (at byte offset {offset})")


class MessageTooLarge(WireError):
    """An encoded message longer than `UDPPayloadMax` (65507 bytes): it cannot be one datagram."""


@dataclass(frozen=True, slots=True)
class Inl(Generic[T]):
    """The left injection of a sum (`InjL` in the source)."""

    value: T


@dataclass(frozen=True, slots=True)
class Inr(Generic[T]):
    """The right injection of a sum (`InjR` in the source)."""

    value: T


@dataclass(frozen=True, slots=True)
class Some(Generic[T]):
    """A present option value; absence is `None`."""

    value: T


class Serializer(ABC, Generic[T]):
    """A value codec; subclasses implement `_enc` and `_dec` on a window of a buffer."""

    name: str = "?"

    def encode(self, value: T) -> bytes:
        """The wire bytes of `value`; raises `WireError` if `value` has the wrong shape."""
        return self._enc(value)

    def decode(self, data: bytes) -> T:
        """The value encoded by all of `data`; raises `WireError` naming the bad offset."""
        data = bytes(data)
        return self._dec(data, 0, len(data))

    @abstractmethod
    def _enc(self, value: T) -> bytes:
        """Encode (no size limit: a payload's size is checked as part of its message)."""

    @abstractmethod
    def _dec(self, buf: bytes, start: int, end: int) -> T:
        """Decode exactly `buf[start:end]`; offsets in errors are absolute in `buf`."""

    def __repr__(self) -> str:
        return self.name


def _parse_digits(buf: bytes, start: int, end: int, what: str, max_digits: int) -> int:
    """A canonical non-negative decimal in `buf[start:end]` (no sign, no leading zero)."""
    if start >= end:
        raise WireError(f"{what}: expected decimal digits, found nothing", start)
    for i in range(start, end):
        if not 0x30 <= buf[i] <= 0x39:
            raise WireError(f"{what}: expected a decimal digit, found {bytes([buf[i]])!r}", i)
    if buf[start] == 0x30 and end - start > 1:
        raise WireError(f"{what}: leading zero is not canonical", start)
    if end - start > max_digits:
        raise WireError(f"{what}: more than {max_digits} digits", start)
    return int(buf[start:end])


def _parse_length(buf: bytes, start: int, end: int, what: str) -> tuple[int, int]:
    """Parse `<len>_` at `start`; return (len, offset just after `_`), checking it fits."""
    sep = buf.find(b"_", start, end)
    if sep < 0:
        raise WireError(f"{what}: missing '_' after the length", start)
    n = _parse_digits(buf, start, sep, f"{what} length", _MAX_INT_DIGITS)
    body = sep + 1
    if n > end - body:
        raise WireError(f"{what}: length {n} exceeds the {end - body} bytes that remain", start)
    return n, body


class _Int(Serializer[int]):
    name = "int_serializer"

    def _enc(self, value: int) -> bytes:
        if not isinstance(value, int) or isinstance(value, bool):
            raise WireError(f"int_serializer: expected an int, got {type(value).__name__}")
        if not INT_MIN <= value <= INT_MAX:
            raise WireError(f"int_serializer: {value} is outside the 63-bit range")
        return str(value).encode("ascii")

    def _dec(self, buf: bytes, start: int, end: int) -> int:
        if start < end and buf[start] == 0x2D:  # '-'
            n = _parse_digits(buf, start + 1, end, "int", _MAX_INT_DIGITS)
            if n == 0:
                raise WireError("int: '-0' is not canonical", start)
            value = -n
        else:
            value = _parse_digits(buf, start, end, "int", _MAX_INT_DIGITS)
        if not INT_MIN <= value <= INT_MAX:
            raise WireError(f"int: {value} is outside the 63-bit range", start)
        return value


class _String(Serializer[str]):
    name = "string_serializer"

    def _enc(self, value: str) -> bytes:
        if not isinstance(value, str):
            raise WireError(f"string_serializer: expected a str, got {type(value).__name__}")
        try:
            return value.encode("utf-8")
        except UnicodeEncodeError as e:
            raise WireError(f"string_serializer: not encodable as UTF-8: {e.reason}") from None

    def _dec(self, buf: bytes, start: int, end: int) -> str:
        try:
            return buf[start:end].decode("utf-8")
        except UnicodeDecodeError as e:
            raise WireError(f"string: invalid UTF-8 ({e.reason})", start + e.start) from None


class _Bytes(Serializer[bytes]):
    name = "bytes_serializer"

    def _enc(self, value: bytes) -> bytes:
        if not isinstance(value, (bytes, bytearray)):
            raise WireError(f"bytes_serializer: expected bytes, got {type(value).__name__}")
        return bytes(value)

    def _dec(self, buf: bytes, start: int, end: int) -> bytes:
        return buf[start:end]


class _Bool(Serializer[bool]):
    name = "bool_serializer"

    def _enc(self, value: bool) -> bytes:
        if not isinstance(value, bool):
            raise WireError(f"bool_serializer: expected a bool, got {type(value).__name__}")
        return b"1" if value else b"0"

    def _dec(self, buf: bytes, start: int, end: int) -> bool:
        text = buf[start:end]
        if text == b"1":
            return True
        if text == b"0":
            return False
        raise WireError(f"bool: expected '1' or '0', found {text[:20]!r}", start)


class _Unit(Serializer[None]):
    name = "unit_serializer"

    def _enc(self, value: None) -> bytes:
        if value is not None:
            raise WireError(f"unit_serializer: expected None, got {type(value).__name__}")
        return b""

    def _dec(self, buf: bytes, start: int, end: int) -> None:
        if start != end:
            raise WireError(f"unit: expected no bytes, found {end - start}", start)


class _Pair(Serializer[tuple[T, U]]):
    def __init__(self, first: Serializer[T], second: Serializer[U]) -> None:
        self.first, self.second = first, second
        self.name = f"prod_serializer({first!r}, {second!r})"

    def _enc(self, value: tuple[T, U]) -> bytes:
        if not isinstance(value, tuple) or len(value) != 2:
            raise WireError(f"{self.name}: expected a 2-tuple, got {type(value).__name__}")
        a = self.first._enc(value[0])
        return b"%d_%s%s" % (len(a), a, self.second._enc(value[1]))

    def _dec(self, buf: bytes, start: int, end: int) -> tuple[T, U]:
        n, body = _parse_length(buf, start, end, "pair")
        return self.first._dec(buf, body, body + n), self.second._dec(buf, body + n, end)


def _tag(buf: bytes, start: int, end: int, what: str) -> bytes:
    """The two-byte `L_` / `R_` prefix of a sum or option."""
    prefix = buf[start : min(start + 2, end)]
    if prefix not in (b"L_", b"R_"):
        raise WireError(f"{what}: expected 'L_' or 'R_', found {prefix!r}", start)
    return prefix


class _Sum(Serializer[Inl[T] | Inr[U]]):
    def __init__(self, left: Serializer[T], right: Serializer[U]) -> None:
        self.left, self.right = left, right
        self.name = f"sum_serializer({left!r}, {right!r})"

    def _enc(self, value: Inl[T] | Inr[U]) -> bytes:
        if isinstance(value, Inl):
            return b"L_" + self.left._enc(value.value)
        if isinstance(value, Inr):
            return b"R_" + self.right._enc(value.value)
        raise WireError(f"{self.name}: expected Inl or Inr, got {type(value).__name__}")

    def _dec(self, buf: bytes, start: int, end: int) -> Inl[T] | Inr[U]:
        if _tag(buf, start, end, "sum") == b"L_":
            return Inl(self.left._dec(buf, start + 2, end))
        return Inr(self.right._dec(buf, start + 2, end))


class _Option(Serializer[Some[T] | None]):
    def __init__(self, inner: Serializer[T]) -> None:
        self.inner = inner
        self.name = f"option_serializer({inner!r})"

    def _enc(self, value: Some[T] | None) -> bytes:
        if value is None:
            return b"L_"
        if isinstance(value, Some):
            return b"R_" + self.inner._enc(value.value)
        raise WireError(f"{self.name}: expected None or Some, got {type(value).__name__}")

    def _dec(self, buf: bytes, start: int, end: int) -> Some[T] | None:
        if _tag(buf, start, end, "option") == b"L_":
            if end != start + 2:
                raise WireError("option: bytes after 'L_' (None has no payload)", start + 2)
            return None
        return Some(self.inner._dec(buf, start + 2, end))


class _List(Serializer[tuple[T, ...]]):
    def __init__(self, inner: Serializer[T]) -> None:
        self.inner = inner
        self.name = f"list_serializer({inner!r})"

    def _enc(self, value: tuple[T, ...]) -> bytes:
        if not isinstance(value, (tuple, list)):
            raise WireError(f"{self.name}: expected a tuple or list, got {type(value).__name__}")
        parts = []
        for x in value:
            e = self.inner._enc(x)
            parts.append(b"%d_%s" % (len(e), e))
        return b"".join(parts)

    def _dec(self, buf: bytes, start: int, end: int) -> tuple[T, ...]:
        out = []
        pos = start
        while pos < end:
            n, body = _parse_length(buf, pos, end, "list element")
            out.append(self.inner._dec(buf, body, body + n))
            pos = body + n
        return tuple(out)


int_serializer: Final[Serializer[int]] = _Int()
string_serializer: Final[Serializer[str]] = _String()
bytes_serializer: Final[Serializer[bytes]] = _Bytes()
bool_serializer: Final[Serializer[bool]] = _Bool()
unit_serializer: Final[Serializer[None]] = _Unit()


def prod_serializer(first: Serializer[T], second: Serializer[U]) -> Serializer[tuple[T, U]]:
    """`pair(a, b)`: `len(enc a)`, `_`, `enc a`, `enc b`; decoding splits at the first `_`."""
    return _Pair(first, second)


def sum_serializer(left: Serializer[T], right: Serializer[U]) -> Serializer[Inl[T] | Inr[U]]:
    """`inl x` is `L_` + `enc x`; `inr x` is `R_` + `enc x`."""
    return _Sum(left, right)


def option_serializer(inner: Serializer[T]) -> Serializer[Some[T] | None]:
    """`None` is `L_`; `Some(x)` is `R_` + `enc x`."""
    return _Option(inner)


def list_serializer(inner: Serializer[T]) -> Serializer[tuple[T, ...]]:
    """Each element as `len_enc`; decodes to a tuple."""
    return _List(inner)


# ---------------------------------------------------------------------------------------------
# Messages (B.3): inl(pair(tag, n)) | inr(inl(n)) | inr(inr(pair(seq, payload)))


@dataclass(frozen=True, slots=True)
class Init:
    """Client → server, handshake step 1 (`("INIT", 0)`)."""


@dataclass(frozen=True, slots=True)
class InitAck:
    """Server → client, handshake step 2, carrying the cookie."""

    cookie: int


@dataclass(frozen=True, slots=True)
class Cookie:
    """Client → server, handshake step 3, echoing the cookie."""

    cookie: int


@dataclass(frozen=True, slots=True)
class CookieAck:
    """Server → client, handshake step 4. The server sends n = 0; the client ignores n."""

    n: int = 0


@dataclass(frozen=True, slots=True)
class HandshakeOther:
    """A well-formed handshake message that is none of the four (unknown tag, or INIT n≠0).

    The source's server only takes `("INIT", 0)` as INIT. Keeping these as values (rather
    than errors) makes `encode_message(decode_message(b)) == b` for every decodable `b`.
    """

    tag: bytes
    n: int


@dataclass(frozen=True, slots=True)
class Ack:
    """`ACK(n)`: the receiver's next expected sequence number."""

    n: int


@dataclass(frozen=True, slots=True)
class Data:
    """`DATA(seq, payload)`; `payload` is the value already encoded by the user's serializer."""

    seq: int
    payload: bytes


Message = Init | InitAck | Cookie | CookieAck | HandshakeOther | Ack | Data
HANDSHAKE_MESSAGES: Final = (Init, InitAck, Cookie, CookieAck, HandshakeOther)

_MESSAGE: Final = sum_serializer(
    prod_serializer(bytes_serializer, int_serializer),
    sum_serializer(int_serializer, prod_serializer(int_serializer, bytes_serializer)),
)
_TAGS: Final[dict[bytes, Any]] = {
    b"INIT-ACK": InitAck,
    b"COOKIE": Cookie,
    b"COOKIE-ACK": CookieAck,
}


def _to_wire(msg: Message) -> Inl[tuple[bytes, int]] | Inr[Inl[int] | Inr[tuple[int, bytes]]]:
    match msg:
        case Init():
            return Inl((b"INIT", 0))
        case InitAck(cookie):
            return Inl((b"INIT-ACK", cookie))
        case Cookie(cookie):
            return Inl((b"COOKIE", cookie))
        case CookieAck(n):
            return Inl((b"COOKIE-ACK", n))
        case HandshakeOther(tag, n):
            return Inl((tag, n))
        case Ack(n):
            return Inr(Inl(n))
        case Data(seq, payload):
            return Inr(Inr((seq, payload)))
    raise WireError(f"not a message: {type(msg).__name__}")


def encode_message(msg: Message) -> bytes:
    """The datagram payload for `msg`; raises `MessageTooLarge` beyond 65507 bytes."""
    data = _MESSAGE.encode(_to_wire(msg))
    if len(data) > UDP_PAYLOAD_MAX:
        raise MessageTooLarge(
            f"message of {len(data)} bytes exceeds UDPPayloadMax ({UDP_PAYLOAD_MAX})"
        )
    return data


def decode_message(data: bytes) -> Message:
    """The message in one datagram payload; raises `WireError` if it is malformed.

    A DATA payload is returned as raw bytes: decoding it is the session's business,
    because only the session knows the user's serializer.
    """
    wire = _MESSAGE.decode(data)
    if isinstance(wire, Inl):
        tag, n = wire.value
        if tag == b"INIT" and n == 0:
            return Init()
        if tag in _TAGS:
            return _TAGS[tag](n)  # type: ignore[no-any-return]
        return HandshakeOther(tag, n)
    inner = wire.value
    if isinstance(inner, Inl):
        return Ack(inner.value)
    seq, payload = inner.value
    return Data(seq, payload)
