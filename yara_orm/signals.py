"""Signals: coroutine functions called around saves and deletes of the given models.

```python
@post_save(Book)
async def on_saved(sender, instance, created, using_db, update_fields): ...
```

`pre_save(sender, instance, using_db, update_fields)`, `post_save(sender, instance, created,
using_db, update_fields)`, `pre_delete(sender, instance, using_db)` and `post_delete(sender,
instance, using_db)`, as Tortoise calls them. Handlers of one signal run concurrently.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from yara_orm.models.base import Model

Handler = Callable[..., Awaitable[Any]]
H = TypeVar("H", bound=Handler)


class Signals(enum.Enum):
    pre_save = "pre_save"
    post_save = "post_save"
    pre_delete = "pre_delete"
    post_delete = "post_delete"


_handlers: dict[Signals, dict[type, list[Handler]]] = {signal: {} for signal in Signals}


def connect(signal: Signals, sender: type, handler: Handler) -> None:
    if not asyncio.iscoroutinefunction(handler):
        raise TypeError(f"a {signal.name} handler must be an async function, not {handler!r}")
    _handlers[signal].setdefault(sender, []).append(handler)


async def send(signal: Signals, instance: Model, *args: Any) -> None:
    """Call the handlers registered for `instance`'s model."""
    handlers = _handlers[signal].get(type(instance))
    if handlers:
        await asyncio.gather(*(h(type(instance), instance, *args) for h in handlers))


def _decorator(signal: Signals) -> Callable[..., Callable[[H], H]]:
    def for_senders(*senders: type) -> Callable[[H], H]:
        def register(handler: H) -> H:
            for sender in senders:
                connect(signal, sender, handler)
            return handler

        return register

    return for_senders


pre_save = _decorator(Signals.pre_save)
post_save = _decorator(Signals.post_save)
pre_delete = _decorator(Signals.pre_delete)
post_delete = _decorator(Signals.post_delete)

__all__ = ["Signals", "post_delete", "post_save", "pre_delete", "pre_save"]
