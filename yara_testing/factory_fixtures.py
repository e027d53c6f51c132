"""`register(Factory, "name", **overrides)`: a factory's pytest fixtures, named and behaving
as pytest-factoryboy's.

- `<factory>_factory` (`book_factory` for `BookFactory`): the factory class;
- `<name>` (default: the model's name, `book`): an instance saved by the factory;
- `<name>__<attr>` for each of the factory's attributes (declarations, traits, post-generation
  hooks, and the overrides given to `register`): the value `<name>` is made with. Parametrize
  one (`@pytest.mark.parametrize("book__title", [...])`) or define a fixture of that name to
  change it. A SubFactory's attribute is the related model's fixture (`book__author` is
  `author`), so `author__name` reaches the book's author too; `book__author__name` gives the
  book an author of its own with that name.

Only what a test changed is passed to the factory, so declarations (sequences, traits, lazy
attributes) keep working for the rest.
"""

from __future__ import annotations

import functools
import inspect
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from factory import declarations

from yara_testing.factories import ModelFactory
from yara_testing.recorder import _short, query_origin

SEPARATOR = "__"
# The baseline of an attribute the factory does not declare: always passed on.
_UNDECLARED = object()


def snake_case(name: str) -> str:
    """`HTTPRequestFactory` -> `http_request_factory` (pytest-factoryboy's naming)."""
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"([a-z\d])([A-Z])", r"\1_\2", name).lower()


@dataclass(frozen=True)
class _Attribute:
    kwarg: str  # what the factory is called with: `title`, or `author__name` one level down
    fixture: str  # `book__title`
    value: Any  # what the fixture gives
    baseline: Any  # the factory's own declaration: a value that `is` it is not passed on


@dataclass
class _Caller:
    """The module `register` was called from, where the fixtures go."""

    namespace: dict[str, Any]
    filename: str
    line: int

    def define(
        self, name: str, argnames: tuple[str, ...], body: Callable[..., Any], doc: str
    ) -> None:
        """A fixture `name` that asks for `argnames` and returns `body(**them)`."""

        def fixture(**arguments: Any) -> Any:
            __tracebackhide__ = True  # its code claims the register() line, below
            return body(**arguments)

        fixture.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [inspect.Parameter(a, inspect.Parameter.KEYWORD_ONLY) for a in argnames]
        )
        fixture.__name__ = fixture.__qualname__ = name
        fixture.__doc__ = doc
        # `pytest --fixtures` lists it under the registering module, at the register() line.
        fixture.__module__ = str(self.namespace.get("__name__", __name__))
        fixture.__code__ = fixture.__code__.replace(
            co_filename=self.filename, co_firstlineno=self.line
        )
        self.namespace[name] = pytest.fixture(name=name)(fixture)

    def define_value(self, name: str, value: Any, what: str) -> None:
        if isinstance(value, declarations.BaseDeclaration):
            shown = f"the factory's {type(value).__name__}"
        else:
            shown = repr(value)
        doc = f"{what}: {shown}. Parametrize or override this fixture to change it."
        self.define(name, (), lambda: value, doc)


def register(
    factory_class: type[ModelFactory] | None = None, _name: str | None = None, **overrides: Any
) -> Any:
    """Make the factory's fixtures in the calling module (a conftest.py or a test module), as
    pytest-factoryboy's `register`: `register(IssueFactory)`, `register(IssueFactory,
    "closed_issue", status="closed")`, or as a class decorator (`@register`,
    `@register(_name="closed_issue", status="closed")`). Returns the factory class."""
    frame = sys._getframe(1)
    caller = _Caller(frame.f_globals, frame.f_code.co_filename, frame.f_lineno)
    if factory_class is None:
        return lambda decorated: _register(decorated, _name, overrides, caller)
    return _register(factory_class, _name, overrides, caller)


def _register(
    factory_class: type[ModelFactory],
    name: str | None,
    overrides: dict[str, Any],
    caller: _Caller,
    registering: frozenset[type[ModelFactory]] = frozenset(),
) -> type[ModelFactory]:
    if not (isinstance(factory_class, type) and issubclass(factory_class, ModelFactory)):
        raise TypeError(f"register() takes a ModelFactory subclass, not {factory_class!r}")
    if factory_class._meta.abstract or factory_class._meta.model is None:
        raise TypeError(f"register(): {factory_class.__name__} is abstract (no Meta.model)")
    model = factory_class._meta.model
    model_name = name or snake_case(model.__name__)
    factory_name = snake_case(factory_class.__name__)
    if model_name == factory_name:
        raise ValueError(
            f"register({factory_class.__name__}): the instance fixture and the factory fixture "
            f"would both be named {model_name!r}; give the instance another name"
        )
    if factory_name not in caller.namespace:
        caller.define(
            factory_name,
            (),
            lambda: factory_class,
            f"The {factory_class.__name__} class: `await {factory_name}.create(**kw)` saves "
            f"a {model.__name__} (and what it needs); `{factory_name}.build(**kw)` makes an "
            "unsaved one.",
        )
    top: list[_Attribute] = []
    nested_names: set[str] = set()
    for attr, declaration in _declared(factory_class):
        fixture = f"{model_name}{SEPARATOR}{attr}"
        related = _linked(declaration, model_name) if attr not in overrides else None
        if related is None:
            value = overrides.get(attr, declaration)
            top.append(_Attribute(attr, fixture, value, declaration))
            caller.define_value(fixture, value, f"{model_name}'s `{attr}`")
            continue
        subfactory = _subfactory(declaration)
        # The related factory is registered too, under its model's name (once: the two
        # factories may refer to each other).
        if related not in caller.namespace and subfactory not in registering:
            _register(subfactory, None, {}, caller, registering | {factory_class})
        nested = list(_nested(subfactory, fixture, "", {factory_class}, overrides, attr))
        nested_names.update(a.fixture for a in nested)
        for attribute in nested:
            caller.define_value(
                attribute.fixture,
                attribute.value,
                f"the `{attribute.kwarg}` of {model_name}'s own `{attr}`, used only when given "
                "(parametrized or overridden)",
            )
        top.append(_Attribute(attr, fixture, None, _UNDECLARED))
        _define_linked(caller, fixture, subfactory, related, nested)
    declared = {attribute.kwarg for attribute in top}
    for attr, value in overrides.items():
        fixture = f"{model_name}{SEPARATOR}{attr}"
        if attr not in declared and fixture not in nested_names:
            top.append(_Attribute(attr, fixture, value, _UNDECLARED))
            caller.define_value(fixture, value, f"{model_name}'s `{attr}`")
    described = ", ".join(f"{k}={v!r}" for k, v in overrides.items())
    caller.define(
        model_name,
        ("yara_db", *(a.fixture for a in top)),
        functools.partial(_instance, factory_class, model_name, top),
        f"{model.__name__} saved by {factory_class.__name__}"
        + (f" with {described}" if described else "")
        + f'. Change a field with @pytest.mark.parametrize("{model_name}__<field>", [...]) '
        f"or a fixture named {model_name}__<field>.",
    )
    return factory_class


def _declared(factory_class: type[ModelFactory]) -> Iterator[tuple[str, Any]]:
    """The factory's attributes: declarations and post-generation hooks, as written (not
    rewritten by traits), then its parameters (traits), which default to off."""
    meta = factory_class._meta
    yield from meta.base_declarations.items()
    for attr, parameter in meta.parameters.items():
        yield attr, getattr(parameter, "value", False)


def _linked(declaration: Any, model_name: str) -> str | None:
    """The related model's fixture name when the attribute is that fixture: a SubFactory with
    no arguments of its own (those would be lost), to another model than this one."""
    if not isinstance(declaration, declarations.SubFactory) or declaration._defaults:
        return None
    related = snake_case(_subfactory(declaration)._meta.model.__name__)
    return None if related == model_name else related


def _subfactory(declaration: declarations.SubFactory) -> type[ModelFactory]:
    factory_class: type[ModelFactory] = declaration.get_factory()  # type: ignore[no-untyped-call]
    return factory_class


def _nested(
    factory_class: type[ModelFactory],
    prefix: str,
    path: str,
    seen: set[type[ModelFactory]],
    overrides: dict[str, Any],
    top_attr: str,
) -> Iterator[_Attribute]:
    """The attributes one SubFactory down (and further through its own SubFactories): fixture
    `book__author__name` is kwarg `name` of the author (`publisher__name` further down)."""
    model_name = snake_case(factory_class._meta.model.__name__)
    for attr, declaration in _declared(factory_class):
        kwarg = f"{path}{attr}"
        fixture = f"{prefix}{SEPARATOR}{attr}"
        related = _linked(declaration, model_name)
        if related is not None:
            subfactory = _subfactory(declaration)
            if subfactory not in seen:
                yield from _nested(
                    subfactory,
                    fixture,
                    f"{kwarg}{SEPARATOR}",
                    seen | {factory_class},
                    overrides,
                    top_attr,
                )
            continue
        value = overrides.get(f"{top_attr}{SEPARATOR}{kwarg}", declaration)
        yield _Attribute(kwarg, fixture, value, declaration)


def _define_linked(
    caller: _Caller,
    name: str,
    subfactory: type[ModelFactory],
    related: str,
    nested: list[_Attribute],
) -> None:
    # The related model's attribute fixtures are asked for by name, so a test that uses only
    # this model can still parametrize them; the related instance itself is fetched only when
    # it is used (a nested override makes another one).
    related_attrs = tuple(f"{related}{SEPARATOR}{attr}" for attr, _ in _declared(subfactory))

    def body(request: pytest.FixtureRequest, **values: Any) -> Any:
        given = {a.kwarg: values[a.fixture] for a in nested if values[a.fixture] is not a.baseline}
        if not given:
            return request.getfixturevalue(related)
        yara_db = request.getfixturevalue("yara_db")
        return yara_db.run(functools.partial(_create, subfactory, given, _origin(name, subfactory)))

    caller.define(
        name,
        ("request", *related_attrs, *(a.fixture for a in nested)),
        body,
        f"The `{related}` fixture; a {subfactory._meta.model.__name__} of its own, made by "
        f"{subfactory.__name__}, when a {name}__<field> is parametrized or overridden.",
    )


def _instance(
    factory_class: type[ModelFactory],
    name: str,
    attributes: list[_Attribute],
    yara_db: Any,
    **values: Any,
) -> Any:
    kwargs = {a.kwarg: values[a.fixture] for a in attributes if values[a.fixture] is not a.baseline}
    return yara_db.run(
        functools.partial(_create, factory_class, kwargs, _origin(name, factory_class))
    )


async def _create(factory_class: type[ModelFactory], kwargs: dict[str, Any], origin: str) -> Any:
    # Runs on the plugin's event loop, where no frame is the user's: the queries are
    # attributed to the fixture and the factory instead of to "<unknown>".
    token = query_origin.set(origin)
    try:
        return await factory_class.create(**kwargs)
    finally:
        query_origin.reset(token)


_defined: dict[type[ModelFactory], str] = {}


def _defined_at(factory_class: type[ModelFactory]) -> str:
    """file:line of the factory's class statement (found once: it parses the file)."""
    if factory_class not in _defined:
        try:
            filename = inspect.getsourcefile(factory_class)
            line = inspect.getsourcelines(factory_class)[1]
            where = f"{_short(filename)}:{line}" if filename else factory_class.__module__
        except (OSError, TypeError):
            where = factory_class.__module__
        _defined[factory_class] = where
    return _defined[factory_class]


def _origin(fixture: str, factory_class: type[ModelFactory]) -> str:
    return f"fixture {fixture} ({factory_class.__name__}, {_defined_at(factory_class)})"
