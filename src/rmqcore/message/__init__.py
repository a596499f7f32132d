"""The shared message model (``rmqcore.message``): the one module every piece may import.

Message, MessageExt and MessageQueue; the property-string and stored-message
codecs (reference section 4); offset message ids and UNIQ_KEY; the Java string
hash used for tag codes and index keys (reference section 5).

>>> from rmqcore.message import Message, encode_properties, decode_properties
>>> m = Message("TopicTest", b"hi", tags="TagA")
>>> decode_properties(encode_properties(m.properties))
{'TAGS': 'TagA'}
"""

from rmqcore.message import constants
from rmqcore.message.codec import (
    MessageDecodeError,
    body_crc32,
    decode_batch_body,
    decode_stored_message,
    decode_stored_messages,
    encode_batch_body,
    encode_stored_message,
    iter_stored_messages,
    stored_size,
)
from rmqcore.message.ids import (
    Host,
    MessageIdError,
    UniqKeyGenerator,
    create_offset_message_id,
    decode_offset_message_id,
    new_uniq_key,
)
from rmqcore.message.java_hash import java_string_hash, tags_code
from rmqcore.message.model import Message, MessageError, MessageExt, MessageQueue, dlq_topic, reply_topic, retry_topic
from rmqcore.message.properties import decode_properties, decode_properties_cached, encode_properties

__all__ = [
    "Host",
    "Message",
    "MessageDecodeError",
    "MessageError",
    "MessageExt",
    "MessageIdError",
    "MessageQueue",
    "UniqKeyGenerator",
    "body_crc32",
    "constants",
    "create_offset_message_id",
    "decode_batch_body",
    "decode_offset_message_id",
    "decode_properties",
    "decode_properties_cached",
    "decode_stored_message",
    "decode_stored_messages",
    "dlq_topic",
    "encode_batch_body",
    "encode_properties",
    "encode_stored_message",
    "iter_stored_messages",
    "java_string_hash",
    "new_uniq_key",
    "reply_topic",
    "retry_topic",
    "stored_size",
    "tags_code",
]
