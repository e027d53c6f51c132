"""Time zone settings and helpers, as Tortoise has them: `use_tz` and `timezone` are set by
`YaraOrm.init(use_tz=..., timezone=...)`. As in Tortoise, the settings are mirrored in the
`USE_TZ` and `TIMEZONE` environment variables, which are also where they start from.

With `use_tz` (the default) datetimes are aware: a naive value is taken to be in the configured
time zone, and values read come back in that zone. Without it they are naive, in that zone.
"""

from __future__ import annotations

import datetime as dt
import os
from zoneinfo import ZoneInfo as _ZoneInfo
from zoneinfo import ZoneInfoNotFoundError

UTC = dt.UTC

__all__ = [
    "UTC",
    "ZoneInfo",
    "ZoneInfoNotFoundError",
    "get_default_timezone",
    "get_timezone",
    "get_use_tz",
    "is_aware",
    "is_naive",
    "localtime",
    "make_aware",
    "make_naive",
    "now",
    "parse_timezone",
]


class ZoneInfo(_ZoneInfo):
    @property
    def zone(self) -> str:
        """pytz's name for the key."""
        return self.key


class _Settings:
    use_tz = True
    timezone = "UTC"
    zone: dt.tzinfo | None = None


_settings = _Settings()


def configure(use_tz: bool | None = None, timezone: str | None = None) -> None:
    """Set by `YaraOrm.init`; None leaves a setting as it is."""
    if use_tz is not None:
        _settings.use_tz = bool(use_tz)
        os.environ["USE_TZ"] = str(_settings.use_tz)
    if timezone is not None:
        _settings.zone = parse_timezone(timezone)
        _settings.timezone = timezone
        os.environ["TIMEZONE"] = timezone


def _reset_timezone_cache() -> None:
    """Read the settings again from `USE_TZ` and `TIMEZONE` (Tortoise's hook for code that
    changes those variables)."""
    _settings.use_tz = os.environ.get("USE_TZ", "True").lower() not in ("false", "0", "")
    _settings.timezone = os.environ.get("TIMEZONE") or "UTC"
    _settings.zone = None


_reset_timezone_cache()


def parse_timezone(zone: str) -> dt.tzinfo:
    """A time zone by name; `us/central` is read as `US/Central`, as pytz does."""
    if zone.upper() == "UTC":
        return ZoneInfo("UTC")
    try:
        return ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        styled = "/".join(part if part.isupper() else part.title() for part in zone.split("/"))
        if styled == zone:
            raise
        return ZoneInfo(styled)


def get_use_tz() -> bool:
    return _settings.use_tz


def get_timezone() -> str:
    return _settings.timezone


def get_default_timezone() -> dt.tzinfo:
    if _settings.zone is None:
        _settings.zone = parse_timezone(_settings.timezone)
    return _settings.zone


def _zone(timezone: dt.tzinfo | str | None) -> dt.tzinfo:
    if timezone is None:
        return get_default_timezone()
    return parse_timezone(timezone) if isinstance(timezone, str) else timezone


def now() -> dt.datetime:
    """Aware in UTC with `use_tz`, naive local time without."""
    return dt.datetime.now(tz=UTC) if get_use_tz() else dt.datetime.now()


def is_aware(value: dt.datetime | dt.time) -> bool:
    return value.utcoffset() is not None


def is_naive(value: dt.datetime | dt.time) -> bool:
    return value.utcoffset() is None


def localtime(
    value: dt.datetime | None = None, timezone: dt.tzinfo | str | None = None
) -> dt.datetime:
    """An aware datetime (default: now) in `timezone` (default: the configured one)."""
    if value is None:
        value = dt.datetime.now(tz=UTC)
    elif is_naive(value):
        raise ValueError("localtime() cannot be applied to a naive datetime")
    return value.astimezone(_zone(timezone))


def make_aware(
    value: dt.datetime, timezone: dt.tzinfo | str | None = None, is_dst: bool | None = None
) -> dt.datetime:
    """A naive datetime read as wall time in `timezone`."""
    if is_aware(value):
        raise ValueError(f"make_aware expects a naive datetime, got {value}")
    return value.replace(tzinfo=_zone(timezone))


def make_naive(value: dt.datetime, timezone: dt.tzinfo | str | None = None) -> dt.datetime:
    """An aware datetime as naive wall time in `timezone`."""
    if is_naive(value):
        raise ValueError("make_naive() cannot be applied to a naive datetime")
    return value.astimezone(_zone(timezone)).replace(tzinfo=None)
