"""The RocketMQ remoting wire protocol, sans-IO (reference sections 1-3 and 13).

Pure functions and dataclasses, bytes in and bytes out: no sockets, no event
loop. A transport feeds received bytes to a ``FrameDecoder``, gets
``RemotingCommand``s, reads typed headers (``headers``) and bodies (``bodies``),
and writes ``encode_command(...)`` back.

>>> from rmqcore.remoting import (FrameDecoder, RequestCode, encode_command, make_request,
...     make_response, GetRouteInfoRequestHeader, SerializeType)
>>> request = make_request(RequestCode.GET_ROUTEINFO_BY_TOPIC, GetRouteInfoRequestHeader("TopicTest"), opaque=1)
>>> frame = encode_command(request)
>>> frame[:8].hex()
'0000008700000083'
>>> decoder = FrameDecoder()
>>> [received] = decoder.feed(frame)
>>> received.code, GetRouteInfoRequestHeader.from_ext(received.ext_fields).topic
(105, 'TopicTest')
>>> [again] = decoder.feed(encode_command(request, SerializeType.ROCKETMQ))
>>> again.ext_fields == received.ext_fields and again.serialize_type is SerializeType.ROCKETMQ
True
>>> make_response(received, 17, remark="No topic route info").opaque
1
"""

from rmqcore.remoting import bodies, headers
from rmqcore.remoting.binary_header import decode_binary_header, encode_binary_header
from rmqcore.remoting.codes import (
    CURRENT_VERSION,
    ONEWAY_FLAG,
    RESPONSE_FLAG,
    LanguageCode,
    RequestCode,
    ResponseCode,
    SerializeType,
    Version,
)
from rmqcore.remoting.command import (
    OpaqueCounter,
    RemotingCommand,
    make_error_response,
    make_request,
    make_response,
)
from rmqcore.remoting.errors import BodyError, EncodeError, FrameError, HeaderError, RemotingError, RequestError
from rmqcore.remoting.frame import (
    DEFAULT_MAX_FRAME_SIZE,
    FrameDecoder,
    decode_frame,
    encode_command,
    encode_command_buffers,
    encode_header,
)
from rmqcore.remoting.headers import *  # noqa: F403 - the header classes are part of the flat API
from rmqcore.remoting.headers import __all__ as _header_names
from rmqcore.remoting.json_header import decode_json_header, encode_json_header

__all__ = [
    "CURRENT_VERSION",
    "DEFAULT_MAX_FRAME_SIZE",
    "ONEWAY_FLAG",
    "RESPONSE_FLAG",
    "BodyError",
    "EncodeError",
    "FrameDecoder",
    "FrameError",
    "HeaderError",
    "LanguageCode",
    "OpaqueCounter",
    "RemotingCommand",
    "RemotingError",
    "RequestCode",
    "RequestError",
    "ResponseCode",
    "SerializeType",
    "Version",
    "bodies",
    "decode_binary_header",
    "decode_frame",
    "decode_json_header",
    "encode_binary_header",
    "encode_command",
    "encode_command_buffers",
    "encode_header",
    "encode_json_header",
    "headers",
    "make_error_response",
    "make_request",
    "make_response",
    *_header_names,
]
