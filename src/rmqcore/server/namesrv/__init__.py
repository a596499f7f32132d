"""The name server: routes from brokers' registrations to clients' route queries."""

from rmqcore.server.namesrv.controller import NamesrvController
from rmqcore.server.namesrv.kv_config import KVConfigManager
from rmqcore.server.namesrv.route_info import RouteInfoManager

__all__ = ["KVConfigManager", "NamesrvController", "RouteInfoManager"]
