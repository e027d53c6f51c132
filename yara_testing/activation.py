"""Models usable before any database: a factory's `build()` in a test that never asks for the
database needs the models' relations resolved, which otherwise happens only when the first
test opens the session's database, so such a test would pass or fail depending on test order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from yara_orm import YaraOrm, connections

if TYPE_CHECKING:
    from yara_orm import Model
    from yara_testing.session import PluginState

# The plugin states between pytest's configure and unconfigure (innermost last: an in-process
# pytester run nests one inside another).
_states: list[PluginState] = []


def install(state: PluginState) -> None:
    _states.append(state)


def uninstall(state: PluginState) -> None:
    if state in _states:
        _states.remove(state)


def ensure_active(model: type[Model]) -> None:
    """Resolve the models' relations as the test session will (its `yara_orm_config` or
    `yara_models`), opening no database, if nothing has yet. Outside the plugin, or once the
    ORM is bound, the model is left as it is and its own error says what is missing."""
    if model._meta.finalized or not _states:
        return
    state = _states[-1]
    request = state.session_request
    # Bound connections belong to a session or an application: their models stay as they are.
    if state.session is not None or request is None or connections.names():
        return
    from yara_testing.session import session_orm_config

    YaraOrm.activate(
        session_orm_config(request.getfixturevalue("yara_orm_config") or {}, state.settings.models)
    )
