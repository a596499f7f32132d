from collections.abc import Callable
from typing import Any

def bind(message_class: type, target_class: type, tags_key: str, /) -> None: ...

class PutPath:
    listeners: list[Any]
    now: Callable[[], int] | None
    enabled: bool
    def __init__(
        self,
        *,
        put_simple: int,
        put_batch: int,
        system_now: int,
        commitlog: int,
        last_queue_offset: int,
        lock: Any,
        targets: dict[Any, Any],
        tag_cache: dict[Any, Any],
        result_type: type,
        status_ok: Any,
        store_host: Any,
        put_failed: Callable[..., Any],
        notify: Callable[..., Any],
        gather: Callable[..., Any] | None,
        offsets_of: Callable[[bytes], Any],
        max_body: int,
        max_props: int,
    ) -> None: ...
    def put(self, msg: Any, queue_id: int, /) -> Any: ...
    def put_batch(self, msgs: Any, queue_id: int, /) -> Any: ...
