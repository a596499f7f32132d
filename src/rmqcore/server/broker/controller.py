"""The broker: composes the store, the bookkeeping managers and the request processors.

``BrokerController(config, clock)`` is what the CLI (and tests) build; ``await run()``
locks the store directory, opens the store, starts listening, registers with the name
servers and then serves until ``await shutdown()``. The delay and transaction services
(``rmqcore.timer``, ``rmqcore.transaction``) open right after the boot line, in a worker
thread: importing them is a good part of start-up and a plain send or pull does not need
them; a request that does waits for them (see :meth:`_services`).

Requests are dispatched by code through one table (:meth:`handle`); an unknown code
answers REQUEST_CODE_NOT_SUPPORTED, a malformed header or body the error's own code, and
a handler exception SYSTEM_ERROR with a remark and a log line, while the connection keeps
serving.

Every periodic job is a plain method reading ``clock.now_ms()`` (a test calls it
directly with a FakeClock); the anyio loops started by :meth:`run` only call them:
:meth:`flush_consumer_offsets`, :meth:`scan_expired_clients`, :meth:`expire_locks`,
:meth:`tick_delay`, :meth:`check_transactions`, :meth:`clean_expired_files`, and
:meth:`register_with_name_servers`.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from typing import Any

import anyio
import anyio.abc
import anyio.from_thread
import anyio.lowlevel
import anyio.to_thread
import structlog

from rmqcore.clock import SYSTEM_CLOCK, Clock
from rmqcore.message import MessageExt, encode_stored_message
from rmqcore.message import constants as C
from rmqcore.remoting import (
    RemotingCommand,
    RequestCode,
    RequestError,
    ResponseCode,
    make_error_response,
    make_request,
    make_response,
)
from rmqcore.remoting.headers.client import NotifyConsumerIdsChangedRequestHeader
from rmqcore.remoting.headers.transaction import CheckTransactionStateRequestHeader
from rmqcore.server.broker.consumers import ConsumerManager
from rmqcore.server.broker.filtering import FilterFactory
from rmqcore.server.broker.locks import QueueLockManager
from rmqcore.server.broker.long_poll import LongPollHolder
from rmqcore.server.broker.offsets import ConsumerOffsetManager
from rmqcore.server.broker.processors import Handler
from rmqcore.server.broker.producers import ProducerManager
from rmqcore.server.broker.registration import NameServerRegistrar
from rmqcore.server.broker.store_lock import StoreDirLock
from rmqcore.server.broker.subscriptions import SubscriptionGroupManager
from rmqcore.server.broker.topics import TopicConfig, TopicConfigManager, system_topic_configs
from rmqcore.server.config import BrokerConfig
from rmqcore.transport import Channel, RemotingServer

log = structlog.get_logger(__name__)

CLIENT_SCAN_INTERVAL_S = 10.0  # ClientHousekeepingService scans every 10 s
LOCK_SWEEP_INTERVAL_S = 10.0
DELAY_TICK_INTERVAL_S = 0.1  # ScheduleMessageService: 100 ms between polls (reference section 7)
RETENTION_INTERVAL_S = 10.0  # cleanResourceInterval 10 s
SHUTDOWN_UNREGISTER_TIMEOUT_S = 2.0


class BrokerController:
    """One broker; see the module docstring for its life cycle."""

    def __init__(
        self,
        config: BrokerConfig,
        clock: Clock = SYSTEM_CLOCK,
        *,
        filter_factory: FilterFactory | None = None,
        disk_usage_probe: Callable[[str], float] | None = None,
    ) -> None:
        """``disk_usage_probe(path) -> used fraction`` replaces the store's real disk check (tests)."""
        self.config = config
        self.clock = clock
        self._disk_usage_probe = disk_usage_probe
        config_dir = config.config_dir
        self.store_lock = StoreDirLock(config.store_root)
        system_topics = system_topic_configs(
            cluster_name=config.broker_cluster_name,
            broker_name=config.broker_name,
            auto_create_topic_enable=config.auto_create_topic_enable,
            default_topic_queue_nums=config.default_topic_queue_nums,
        )
        self.topics = TopicConfigManager(
            config_dir, clock, system_topics=system_topics, auto_create_topic_enable=config.auto_create_topic_enable
        )
        self.topics.on_created = self._topic_created
        self.groups = SubscriptionGroupManager(
            config_dir, clock, auto_create=config.auto_create_subscription_group, retry_max_times=config.retry_max_times
        )
        self.offsets = ConsumerOffsetManager(config_dir, clock)
        self.consumers = ConsumerManager()
        self.consumers.on_ids_changed = self.notify_consumer_ids_changed
        self.producers = ProducerManager()
        self.locks = QueueLockManager(clock)
        self.long_poll = LongPollHolder()
        self.filter_factory = filter_factory or FilterFactory()
        self.store: Any = None
        self._flush_waiter: Any = None  # SYNC_FLUSH sends await their flush here (see flush_waiter())
        # (DelayService, TransactionalMessageService, TransactionChecker) once opened; see _services.
        self._opened_services: tuple[Any, Any, Any] | None = None
        self._services_lock = threading.Lock()
        self.server: RemotingServer | None = None
        self.port: int = config.listen_port
        self.store_host: tuple[str, int] = (config.broker_ip1, config.listen_port)
        self.registrar = NameServerRegistrar(
            config.namesrv_addrs,
            self.topics,
            cluster_name=config.broker_cluster_name,
            broker_name=config.broker_name,
            broker_id=config.broker_id,
            broker_addr=lambda: self.broker_addr,
        )
        self._handlers: dict[int, Handler] = {}
        self._task_group: anyio.abc.TaskGroup | None = None
        self._loop_thread: int | None = None
        self._call_soon_threadsafe: Callable[..., object] | None = None
        self._shutdown_requested: anyio.Event | None = None
        self._closed_event: anyio.Event | None = None
        self._opened = False
        self._closed = False
        self._registration_pending = False
        # Set when the registration requested after a topic was created has reached the
        # name servers; a send that created its topic answers only after it (as RocketMQ's
        # createTopicInSendMessageMethod registers before the send returns), so the
        # producer's next route look-up already finds the topic.
        self.registration_in_flight: anyio.Event | None = None

    # -- identity -------------------------------------------------------------------------------
    @property
    def broker_name(self) -> str:
        return self.config.broker_name

    @property
    def broker_addr(self) -> str:
        return f"{self.config.broker_ip1}:{self.port}"

    # -- life cycle --------------------------------------------------------------------------------
    def open(self) -> None:
        """Lock the directory, load config files, open the store and services (``run`` does this itself)."""
        self.open_configs()
        self.open_store_and_services((self.config.broker_ip1, self.config.listen_port))

    def open_configs(self) -> None:
        """Lock the store directory and load topics.json, subscriptionGroup.json, consumerOffset.json."""
        if self.store_lock.held:
            return
        self.store_lock.acquire()  # StoreLockedError when another broker holds the directory
        try:
            self.topics.load()
            self.groups.load()
            self.offsets.load()
        except BaseException:
            self.store_lock.release()
            raise

    def open_store_and_services(self, store_host: tuple[str, int], *, defer_services: bool = False) -> None:
        """Open the store (records carry ``store_host``), the handlers, and the delay and transaction
        services; with ``defer_services`` those open on first use (:meth:`_services`)."""
        if self._opened:
            return
        from rmqcore.server.broker.store_adapter import open_store

        self.store_host = store_host
        try:
            self.store = open_store(
                self.config, self.clock, store_host, self._message_dispatched, disk_usage_probe=self._disk_usage_probe
            )
            if not defer_services:
                self._services()
        except BaseException:
            self._close_store_and_services()
            raise
        self._build_handlers()
        self._opened = True

    # -- the delay and transaction services ----------------------------------------------------------
    @property
    def delay_service(self) -> Any:
        """The ``DelayService`` (DELAY levels and timer messages); None while the store is closed."""
        return self._services()[0]

    @property
    def transactions(self) -> Any:
        """The ``TransactionalMessageService`` (half messages); None while the store is closed."""
        return self._services()[1]

    @property
    def transaction_checker(self) -> Any:
        """The ``TransactionChecker``; None while the store is closed."""
        return self._services()[2]

    def _services(self) -> tuple[Any, Any, Any]:
        """The services, opened now if they are not yet (from any thread; one opens, others wait).

        ``run`` opens them in a worker thread just after its boot line, so a request needing
        them right after start-up waits for that (tens of milliseconds at most); the periodic
        delay tick and transaction check open them too.
        """
        services = self._opened_services
        if services is not None:
            return services
        with self._services_lock:
            if self._opened_services is None:
                if self.store is None:
                    return (None, None, None)
                self._opened_services = self._open_services()
            return self._opened_services

    def _open_services(self) -> tuple[Any, Any, Any]:
        from rmqcore.server.broker.services import open_delay_service, open_transaction_services
        from rmqcore.server.broker.store_adapter import ServiceStoreView

        service_store = ServiceStoreView(self.store)
        delay_service = open_delay_service(self.config, self.clock, service_store)
        try:
            transactions, checker = open_transaction_services(
                self.config, self.clock, service_store, self.check_transaction_state, delay_service
            )
        except BaseException:
            delay_service.close()
            raise
        return (delay_service, transactions, checker)

    async def _open_services_after_boot(self) -> None:
        try:
            await anyio.to_thread.run_sync(self._services)
        except Exception:
            log.exception("broker_services_open_failed", broker=self.broker_name)
            raise

    def _build_handlers(self) -> None:
        from rmqcore.server.broker.processors.admin import AdminProcessor
        from rmqcore.server.broker.processors.client_manage import ClientManageProcessor
        from rmqcore.server.broker.processors.consumer_manage import ConsumerManageProcessor
        from rmqcore.server.broker.processors.lock import LockProcessor
        from rmqcore.server.broker.processors.pull import PullProcessor
        from rmqcore.server.broker.processors.query import QueryProcessor
        from rmqcore.server.broker.processors.reply import ReplyProcessor
        from rmqcore.server.broker.processors.send import SendProcessor
        from rmqcore.server.broker.processors.send_back import SendBackProcessor
        from rmqcore.server.broker.processors.transaction import EndTransactionProcessor

        table: dict[int, Handler] = {}
        for processor_cls in (
            SendProcessor,
            ReplyProcessor,
            PullProcessor,
            QueryProcessor,
            ClientManageProcessor,
            ConsumerManageProcessor,
            LockProcessor,
            SendBackProcessor,
            EndTransactionProcessor,
            AdminProcessor,
        ):
            table.update(processor_cls(self).handlers())
        if self.is_slave:
            from rmqcore.server.broker.processors.slave_role import SlaveWriteRefusal

            table.update(SlaveWriteRefusal(self).handlers())
        self._handlers = {int(code): handler for code, handler in table.items()}

    @property
    def is_slave(self) -> bool:
        """``brokerRole=SLAVE``: the store is only read (see processors/slave_role.py)."""
        return self.config.broker_role == "SLAVE"

    async def run(self, *, task_status: anyio.abc.TaskStatus[int] = anyio.TASK_STATUS_IGNORED) -> None:
        """Open, listen, register, serve until :meth:`shutdown`; ``task_status.started(port)`` once ready."""
        begin = time.perf_counter()
        self._shutdown_requested = anyio.Event()
        self._closed_event = anyio.Event()
        try:
            self.open_configs()
            async with anyio.create_task_group() as tg:
                self._task_group = tg
                self._bind_loop()
                self.server = RemotingServer(
                    self.handle,
                    self.config.bind_host,
                    self.config.listen_port,
                    max_frame_size=self.config.max_frame_size,
                    on_close=self._channel_closed,
                )
                # Listen first: with listenPort 0 the store needs the real port for STOREHOSTADDRESS.
                # Until the store is open, requests answer SYSTEM_BUSY.
                self.port = await tg.start(self.server.serve)
                self.open_store_and_services((self.config.broker_ip1, self.port), defer_services=True)
                self.registrar.bind(tg)
                await self.registrar.register_all()
                self._start_periodic_jobs(tg)
                namesrv = ";".join(self.config.namesrv_addrs) or "null"
                log.info(
                    f"The broker[{self.broker_name}, {self.broker_addr}] boot success. "
                    f"serializeType=JSON and name server is {namesrv}",
                    broker=self.broker_name,
                    addr=self.broker_addr,
                    startup_ms=round((time.perf_counter() - begin) * 1000, 1),
                )
                task_status.started(self.port)
                tg.start_soon(self._open_services_after_boot)
                await self._shutdown_requested.wait()
                with anyio.move_on_after(SHUTDOWN_UNREGISTER_TIMEOUT_S, shield=True):
                    await self.registrar.unregister_all()
                self.long_poll.wake_all()
                tg.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await self._close()

    async def shutdown(self) -> None:
        """Stop serving, flush offsets and config, close the store, release the directory lock."""
        if self._shutdown_requested is not None and self._closed_event is not None:
            self._shutdown_requested.set()
            await self._closed_event.wait()
        else:
            await self._close()

    async def _close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self.server is not None:
                await self.server.aclose()
            await self.registrar.aclose()
            if self._opened:
                self.flush_consumer_offsets()
                self.topics.persist()
                self.groups.persist()
            self._close_store_and_services()
        finally:
            self.store_lock.release()
            self._task_group = None
            if self._closed_event is not None:
                self._closed_event.set()
            log.info("broker_shutdown", broker=self.broker_name, addr=self.broker_addr)

    def _close_store_and_services(self) -> None:
        # Under the lock: waits for an opening in progress, and none starts once the store is None.
        with self._services_lock:
            services, self._opened_services = self._opened_services, None
            delay_service, transactions, checker = services or (None, None, None)
            closing = (("delay_service", delay_service), ("transaction_checker", checker), ("transactions", transactions))
            for name, service in closing:
                close = getattr(service, "close", None)
                if close is not None:
                    try:
                        close()
                    except Exception:
                        log.exception("broker_service_close_failed", service=name)
            if self.store is not None:
                try:
                    self.store.close()
                except Exception:
                    log.exception("store_close_failed")
                # after the store's final flush, so sends it covered still answer SEND_OK
                waiter, self._flush_waiter = self._flush_waiter, None
                if waiter is not None:
                    waiter.close()
                self.store = None

    def flush_waiter(self) -> Any:
        """The SYNC_FLUSH sends' :class:`FlushWaiter` (created on first use, on the event
        loop); None when the store is closed or the loop is not asyncio's (the send processor
        then waits in a worker thread)."""
        waiter = self._flush_waiter
        if waiter is not None or self.store is None or self._closed:
            return waiter
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None
        from rmqcore.server.broker.flush_waiter import FlushWaiter

        waiter = self._flush_waiter = FlushWaiter(self.store, loop, self.store.config.sync_flush_timeout / 1000)
        return waiter

    # -- dispatch ----------------------------------------------------------------------------------
    def register_handler(self, code: int, handler: Handler) -> None:
        """Add or replace the handler of a request code (an extension point, like ``registerProcessor``)."""
        self._handlers[int(code)] = handler

    def handler_table(self) -> dict[int, Handler]:
        return dict(self._handlers)

    def handle(self, channel: Any, cmd: RemotingCommand) -> Any:
        """The transport's handler: response, None (one-way), or an awaitable of either."""
        handler = self._handlers.get(cmd.code)
        if handler is None:
            return self._no_handler(cmd)
        try:
            result = handler(channel, cmd)
        except RequestError as exc:
            return make_error_response(cmd, exc)
        except Exception as exc:
            return self._crashed(cmd, channel, exc)
        if result is None or result.__class__ is RemotingCommand:
            return result
        return self._guard(channel, cmd, result)  # type: ignore[arg-type]  # not a response: an awaitable

    async def _guard(self, channel: Any, cmd: RemotingCommand, pending: Awaitable[Any]) -> Any:
        try:
            return await pending
        except RequestError as exc:
            return make_error_response(cmd, exc)
        except Exception as exc:
            return self._crashed(cmd, channel, exc)

    def _crashed(self, cmd: RemotingCommand, channel: Any, exc: Exception) -> RemotingCommand:
        log.exception("broker_handler_failed", code=cmd.code, remote=getattr(channel, "remote_addr", "?"))
        return make_response(cmd, ResponseCode.SYSTEM_ERROR, f"{type(exc).__name__}: {exc}")

    def _no_handler(self, cmd: RemotingCommand) -> RemotingCommand:
        if not self._opened:
            return make_response(cmd, ResponseCode.SYSTEM_BUSY, "broker is starting, try again later")
        log.warning("broker_request_not_supported", code=cmd.code)
        return make_response(cmd, ResponseCode.REQUEST_CODE_NOT_SUPPORTED, f" request type {cmd.code} not supported")

    # -- events from the store, managers and connections ---------------------------------------------
    def _message_dispatched(self, topic: str, queue_id: int, queue_offset: int) -> None:
        """Store dispatch listener (any thread): a message reached ``queue_offset``; wake parked pulls."""
        self.long_poll.notify(topic, queue_id, queue_offset + 1)

    def _channel_closed(self, channel: Channel) -> None:
        self.consumers.channel_closed(channel)
        self.producers.channel_closed(channel)

    def _topic_created(self, config: TopicConfig) -> None:
        self.request_registration()

    def request_registration(self) -> None:
        """Register with the name servers soon (after a topic was created or changed)."""
        if self._task_group is None or not self.config.namesrv_addrs or self._registration_pending:
            return
        self._registration_pending = True
        self._run_in_loop(self._start_registration)

    def _start_registration(self) -> None:
        done = self.registration_in_flight = anyio.Event()

        async def register() -> None:
            self._registration_pending = False
            try:
                await self.registrar.register_all()
            finally:
                done.set()
                if self.registration_in_flight is done:
                    self.registration_in_flight = None

        self._spawn(register)

    def notify_consumer_ids_changed(self, group: str, channels: list[Hashable]) -> None:
        """NOTIFY_CONSUMER_IDS_CHANGED one-way to each channel still in ``group``."""
        header = NotifyConsumerIdsChangedRequestHeader(group)

        async def notify(channel: Any) -> None:
            try:
                await channel.oneway(make_request(RequestCode.NOTIFY_CONSUMER_IDS_CHANGED, header))
            except Exception as exc:
                log.info("notify_consumer_ids_changed_failed", group=group, remote=getattr(channel, "remote_addr", "?"), error=str(exc))

        for channel in channels:
            if hasattr(channel, "oneway"):
                self._run_in_loop(self._spawn, notify, channel)

    def check_transaction_state(self, half: MessageExt) -> None:
        """The transaction checker's callback: ask a live producer of PGROUP (reference section 8)."""
        group = half.properties.get(C.PROPERTY_PRODUCER_GROUP, "")
        channel = self.producers.available_channel(group)
        if channel is None:
            log.warning("transaction_check_no_producer", producer_group=group, msg_id=half.msg_id)
            return
        real = MessageExt(
            half.properties.get(C.PROPERTY_REAL_TOPIC, half.topic),
            half.body,
            flag=half.flag,
            properties=half.properties,
            queue_id=int(half.properties.get(C.PROPERTY_REAL_QUEUE_ID, half.queue_id)),
            queue_offset=half.queue_offset,
            commitlog_offset=half.commitlog_offset,
            sys_flag=half.sys_flag,
            born_timestamp=half.born_timestamp,
            born_host=half.born_host,
            store_timestamp=half.store_timestamp,
            store_host=half.store_host,
            reconsume_times=half.reconsume_times,
            prepared_transaction_offset=half.prepared_transaction_offset,
        )
        uniq = half.properties.get(C.PROPERTY_UNIQ_CLIENT_MESSAGE_ID_KEYIDX)
        header = CheckTransactionStateRequestHeader(
            tran_state_table_offset=half.queue_offset,
            commit_log_offset=half.commitlog_offset,
            topic=real.topic,
            msg_id=uniq,
            transaction_id=half.properties.get(C.PROPERTY_TRANSACTION_ID, uniq),
            offset_msg_id=half.offset_msg_id,
            broker_name=self.broker_name,
        )
        request = make_request(RequestCode.CHECK_TRANSACTION_STATE, header, encode_stored_message(real))

        async def send() -> None:
            try:
                await channel.oneway(request)  # type: ignore[attr-defined]
            except Exception as exc:
                log.warning("transaction_check_send_failed", producer_group=group, error=str(exc))

        self._run_in_loop(self._spawn, send)

    # -- periodic jobs (tests call these directly) ---------------------------------------------------
    def flush_consumer_offsets(self) -> bool:
        """Write consumerOffset.json if offsets changed (every flushConsumerOffsetInterval)."""
        return self.offsets.persist()

    def scan_expired_clients(self) -> list[Hashable]:
        """Drop consumers and producers silent for 120 s; their connections are closed."""
        now = self.clock.now_ms()
        expired = self.consumers.scan_not_active(now) + self.producers.scan_not_active(now)
        for channel in dict.fromkeys(expired):
            close = getattr(channel, "close", None)
            if close is not None:
                self._run_in_loop(self._spawn, close)
        return expired

    def expire_locks(self) -> int:
        return self.locks.remove_expired()

    def tick_delay(self) -> int:
        """Re-put delayed and timer messages now due; returns how many."""
        delay_service = self.delay_service
        if delay_service is None:
            return 0
        return int(delay_service.tick())

    def check_transactions(self) -> int:
        """One transaction check round; returns how many half messages were checked."""
        checker = self.transaction_checker
        if checker is None:
            return 0
        return int(checker.check_once())

    def clean_expired_files(self) -> Any:
        """Apply the store's retention (fileReservedTime, deleteWhen, disk ratio); returns its report."""
        if self.store is None:
            return None
        return self.store.run_retention()

    # -- store look-ups the processors share ----------------------------------------------------------
    def stored_record(self, commitlog_offset: int) -> bytes | None:
        """The record stored at ``commitlog_offset``, as on disk (VIEW_MESSAGE_BY_ID)."""
        return self.store.look_message_raw(commitlog_offset)

    def store_offset_by_time(self, topic: str, queue_id: int, timestamp_ms: int, boundary_type: str | None) -> int:
        """SEARCH_OFFSET_BY_TIMESTAMP: the queue offset for ``timestamp_ms`` by the 5.x header's
        ``boundaryType``, read as ``BoundaryType.getType`` does (``upper`` in any case is UPPER;
        absent, empty or anything else LOWER). LOWER: the first offset stored at or after the
        time; UPPER: the last stored at or before it (MessageStore.offset_by_time)."""
        upper = boundary_type is not None and boundary_type.lower() == "upper"
        return self.store.offset_by_time(topic, queue_id, timestamp_ms, upper=upper)

    def earliest_store_time(self, topic: str, queue_id: int) -> int:
        """Store time of the oldest message still in the queue, or -1 (GET_EARLIEST_MSG_STORETIME)."""
        store = self.store
        oldest = store.get(topic, queue_id, store.min_offset(topic, queue_id), 1)
        return oldest.messages[0].store_timestamp if oldest.messages else -1

    def commitlog_max_offset(self) -> int:
        return self.store.max_phy_offset

    async def register_with_name_servers(self) -> dict[str, str]:
        return await self.registrar.register_all()

    def _start_periodic_jobs(self, tg: anyio.abc.TaskGroup) -> None:
        cfg = self.config
        # Offsets are written (with fsync) from a worker thread so the event loop never waits on the disk.
        tg.start_soon(self._every, cfg.flush_consumer_offset_interval / 1000, self.flush_consumer_offsets, True)
        tg.start_soon(self._every, CLIENT_SCAN_INTERVAL_S, self.scan_expired_clients, False)
        tg.start_soon(self._every, LOCK_SWEEP_INTERVAL_S, self.expire_locks, False)
        tg.start_soon(self._every, RETENTION_INTERVAL_S, self.clean_expired_files, True)
        if not self.is_slave:  # both re-put messages: a slave's store is written by its master only
            # Not "if self.delay_service": that would open the services before the boot line.
            tg.start_soon(self._every, DELAY_TICK_INTERVAL_S, self.tick_delay, True)
            tg.start_soon(self._every, cfg.transaction_check_interval / 1000, self.check_transactions, True)
        if cfg.namesrv_addrs:
            tg.start_soon(self._register_loop, cfg.register_name_server_period / 1000)

    async def _every(self, interval_s: float, job: Callable[[], object], in_thread: bool) -> None:
        while True:
            await anyio.sleep(interval_s)
            try:
                if in_thread:
                    await anyio.to_thread.run_sync(job)
                else:
                    job()
            except Exception:
                log.exception("broker_periodic_job_failed", job=getattr(job, "__name__", repr(job)))

    async def _register_loop(self, interval_s: float) -> None:
        while True:
            await anyio.sleep(interval_s)
            await self.registrar.register_all()

    # -- event-loop plumbing -------------------------------------------------------------------------
    def _bind_loop(self) -> None:
        self._loop_thread = threading.get_ident()
        self.long_poll.bind_to_current_loop()
        try:
            self._call_soon_threadsafe = asyncio.get_running_loop().call_soon_threadsafe
        except RuntimeError:  # pragma: no cover - another anyio backend
            token = anyio.lowlevel.current_token()

            def hand_over(func: Callable[..., object], *args: object) -> None:
                anyio.from_thread.run_sync(func, *args, token=token)

            self._call_soon_threadsafe = hand_over

    def _run_in_loop(self, func: Callable[..., object], *args: Any) -> None:
        """Call ``func(*args)`` on the event loop thread (now if already there)."""
        if self._loop_thread is None or threading.get_ident() == self._loop_thread:
            func(*args)
        elif self._call_soon_threadsafe is not None:
            try:
                self._call_soon_threadsafe(func, *args)
            except RuntimeError:
                log.debug("broker_loop_closed", func=getattr(func, "__name__", repr(func)))

    def _spawn(self, func: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> None:
        tg = self._task_group
        if tg is None:
            return
        try:
            tg.start_soon(func, *args)
        except RuntimeError:  # the task group already finished: the broker is shutting down
            log.debug("broker_task_dropped_at_shutdown", func=getattr(func, "__name__", repr(func)))
