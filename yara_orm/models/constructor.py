"""The model constructor, compiled once per model from its `init_plan`.

A generic loop over the fields cost about 0.8 µs a field in tuple unpacking, lookups and the
generic `Field.validate`; the compiled function is one straight run of statements, and takes a
value of the exact type a plain field expects (an `int` in range, a `str` short enough...) as
it is, with the same result as validating it (see `Field.init_fast_test`). Everything else
goes through the field's `validate`, as before.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from yara_orm.fields.base import NO_DEFAULT, DatabaseDefault

if TYPE_CHECKING:
    from yara_orm.models.base import Model
    from yara_orm.models.meta import InitStep

Constructor = Callable[["Model", dict[str, Any]], None]


def compile_constructor(
    model_name: str, plan: tuple[InitStep, ...], accepted: frozenset[str]
) -> Constructor:
    """`construct(instance, kwargs)`: what `Model.__init__(**kwargs)` does for this plan;
    `accepted`: the keywords it takes (field names and `_id` attributes)."""
    # Imported here: `meta` imports this module, and the query package imports `meta`.
    from yara_orm.models.meta import InitDefault
    from yara_orm.query.expressions import Expression

    namespace: dict[str, Any] = {
        "NO_DEFAULT": NO_DEFAULT,
        "DatabaseDefault": DatabaseDefault,
        "Expression": Expression,
        "UUID": uuid.UUID,
        "accepted": accepted,
    }
    waits = any(default is InitDefault.AWAITED for *_, default in plan)
    lines = [
        "def construct(self, kwargs):",
        "    if not accepted.issuperset(kwargs):",
        "        self._refuse_init_names(kwargs)",
        "    state = self.__dict__",
    ]
    if waits:
        lines.append("    waiting = {}")
    for index, (field, name, key, is_fk, validate, default) in enumerate(plan):
        namespace[f"field_{index}"] = field
        namespace[f"validate_{index}"] = validate
        fast = field.init_fast_test()
        check = f"validate_{index}(v, False)"
        if is_fk:
            lines += [
                f"    if {name!r} in kwargs:",
                f"        setattr(self, {name!r}, kwargs[{name!r}])",
                "    else:",
                f"        v = kwargs.get({key!r})",
                f"        state[{key!r}] = v if v is None or {fast or 'False'} else {check}",
            ]
            continue
        lines.append(f"    v = kwargs.get({name!r}, NO_DEFAULT)")
        if fast:
            lines += [
                f"    if {fast}:",
                f"        state[{name!r}] = v",
                "    elif v is not NO_DEFAULT:",
            ]
        else:
            lines.append("    if v is not NO_DEFAULT:")
        lines += [
            f"        state[{name!r}] = v if isinstance(v, Expression) else {check}",
            "    else:",
        ]
        if default is InitDefault.VALUE:
            lines.append(
                f"        state[{name!r}] = validate_{index}(field_{index}.default_value(), False)"
            )
        elif default is InitDefault.AWAITED:
            lines += [
                f"        waiting[{name!r}] = field_{index}.default  # awaited on save",
                f"        state[{name!r}] = None",
            ]
        elif default is InitDefault.DATABASE:
            lines.append(f"        state[{name!r}] = DatabaseDefault(field_{index})")
        else:
            lines.append(f"        state[{name!r}] = None")
    if waits:
        lines += ["    if waiting:", "        state['_await_when_save'] = waiting"]
    # Until an attribute is set, a save need not validate these values again.
    lines.append("    state['_as_validated'] = True")
    # Our own source, from the plan; a traceback through it names the model.
    code = compile("\n".join(lines), f"<constructor of {model_name}>", "exec")
    exec(code, namespace)
    constructor: Constructor = namespace["construct"]
    return constructor
