"""Collector tables. Importing this package registers all of them on Base."""

from __future__ import annotations

import importlib.util

from collector.models.base import MAX_ROW_ID, Base, UTCDateTime, is_row_id, utcnow
from collector.models.core import (
    CASE_SOURCES,
    CASE_STATUSES,
    CLASSIFICATIONS,
    HEARTBEAT_CHECK,
    RESOLUTIONS,
    STATUSES,
    AgentToken,
    Case,
    CaseEvent,
    Check,
    Host,
    MetricCounter,
    Result,
    open_key_for,
)
from collector.models.users import ROLES, User

# The procedure's tables live in their own module; importing it here puts
# them in Base.metadata so that create_all makes them too.
if importlib.util.find_spec("collector.models.procedure") is not None:
    importlib.import_module("collector.models.procedure")

__all__ = [
    "CASE_SOURCES",
    "CASE_STATUSES",
    "CLASSIFICATIONS",
    "HEARTBEAT_CHECK",
    "MAX_ROW_ID",
    "RESOLUTIONS",
    "ROLES",
    "STATUSES",
    "AgentToken",
    "Base",
    "Case",
    "CaseEvent",
    "Check",
    "Host",
    "MetricCounter",
    "Result",
    "UTCDateTime",
    "User",
    "is_row_id",
    "open_key_for",
    "utcnow",
]
