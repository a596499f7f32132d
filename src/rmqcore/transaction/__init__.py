"""Transactional messages (``rmqcore.transaction``): half messages, commit/rollback, the check loop.

Reference section 8.  ``TransactionalMessageService`` stores half messages and ends them
(END_TRANSACTION); ``TransactionChecker`` asks producers about half messages left open.  The
store is passed in (any object with the ``TransactionStore`` methods); this package imports
only ``rmqcore.message`` and ``rmqcore.clock``.

>>> import tempfile
>>> from rmqcore.clock import FakeClock
>>> from rmqcore.message import MessageExt
>>> from rmqcore.store import MessageStore, StoreConfig
>>> from rmqcore.transaction import COMMIT, ROLLBACK, TransactionalMessageService
>>> root = tempfile.TemporaryDirectory(); clock = FakeClock(start_ms=0)
>>> store = MessageStore.open(root.name, StoreConfig(mapped_file_size_commit_log=1 << 20), clock=clock)
>>> service = TransactionalMessageService(store, clock)
>>> def send(tag):
...     m = MessageExt("TopicTest", b"", tags=tag, properties={"PGROUP": "pg", "TRAN_MSG": "true"})
...     return service.prepare(m, queue_id=0)
>>> a, b = send("TagA"), send("TagB")
>>> _ = service.end("pg", a.queue_offset, a.commitlog_offset, COMMIT)
>>> service.end("pg", b.queue_offset, b.commitlog_offset, ROLLBACK) is None
True
>>> [m.tags for m in store.get("TopicTest", 0, 0).messages]
['TagA']
>>> store.close(); root.cleanup()
"""

from rmqcore.transaction.checker import TransactionChecker
from rmqcore.transaction.errors import SYSTEM_ERROR, TransactionError, TransactionProgressError
from rmqcore.transaction.half_message import op_body, parse_op_body
from rmqcore.transaction.service import COMMIT, ROLLBACK, UNKNOWN, TransactionalMessageService
from rmqcore.transaction.store_protocol import TransactionStore

__all__ = [
    "COMMIT",
    "ROLLBACK",
    "SYSTEM_ERROR",
    "UNKNOWN",
    "TransactionChecker",
    "TransactionError",
    "TransactionProgressError",
    "TransactionStore",
    "TransactionalMessageService",
    "op_body",
    "parse_op_body",
]
