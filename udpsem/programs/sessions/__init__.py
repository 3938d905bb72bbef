"""The reliable-sessions library of MODEL.md Part B: wire format and sans-I/O protocol cores.

`wire` is the byte-exact codec (B.3), `handshake` the B.4 transition tables, `core` the
deterministic `ClientCore` / `ServerCore` (B.4–B.6). Drivers that run the cores over the
model's LIB or real sockets live elsewhere.
"""

from .core import (
    COOKIE_BOUND,
    DEFAULT_TIMING,
    Addr,
    Channel,
    ClientCore,
    Effect,
    NotConnected,
    ProtocolViolation,
    RandomSource,
    Send,
    ServerCore,
    SessionId,
    SessionReady,
    SetTimer,
    Timing,
)
from .handshake import (
    CLIENT_TABLE,
    SERVER_TABLE,
    Action,
    ClientState,
    Entry,
    Event,
    Row,
    render_dot,
    render_text,
)
from .wire import (
    Ack,
    Cookie,
    CookieAck,
    Data,
    HandshakeOther,
    Inl,
    Init,
    InitAck,
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

__all__ = [
    "COOKIE_BOUND", "DEFAULT_TIMING", "Addr", "Channel", "ClientCore", "Effect", "NotConnected",
    "ProtocolViolation", "RandomSource", "Send", "ServerCore", "SessionId",
    "SessionReady", "SetTimer", "Timing",
    "CLIENT_TABLE", "SERVER_TABLE", "Action", "ClientState", "Entry", "Event", "Row",
    "render_dot", "render_text",
    "Ack", "Cookie", "CookieAck", "Data", "HandshakeOther", "Inl", "Init", "InitAck", "Inr",
    "Message", "MessageTooLarge", "Serializer", "Some", "WireError", "bool_serializer",
    "bytes_serializer", "decode_message", "encode_message", "int_serializer", "list_serializer",
    "option_serializer", "prod_serializer", "string_serializer", "sum_serializer",
    "unit_serializer",
]
