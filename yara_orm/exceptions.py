"""The exceptions of yara-orm, one hierarchy for every backend.

Database errors follow PEP 249's families and keep what the server said: the message,
the SQLSTATE (SQLite's result codes are reported as the SQLSTATE PostgreSQL would use),
the constraint, detail and hint where known, and the SQL that failed.
"""

from __future__ import annotations

import builtins

__all__ = [
    "BaseORMException",
    "ConfigurationError",
    "DBConnectionError",
    "DataError",
    "DatabaseError",
    "DoesNotExist",
    "FieldError",
    "IncompleteInstanceError",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "IsolationDeadlockError",
    "MultipleObjectsReturned",
    "NoValuesFetched",
    "NotExistOrMultiple",
    "NotSupportedError",
    "NullValueError",
    "ObjectDoesNotExistError",
    "OperationalError",
    "ParameterTypeError",
    "ParamsError",
    "PoolTimeoutError",
    "ProgrammingError",
    "QueryCanceledError",
    "RelationNotLoaded",
    "RelationTypeError",
    "TransactionManagementError",
    "TransactionRollbackError",
    "UnSupportedError",
    "ValidationError",
    "YaraError",
]


class YaraError(Exception):
    """Base class of every exception yara-orm raises."""


#: Tortoise's name for the base class.
BaseORMException = YaraError


class ConfigurationError(YaraError):
    """A malformed URL, an unknown option, or a value out of range."""


class InterfaceError(YaraError):
    """Misuse of the client: a closed engine, a finished transaction, bad arguments."""


class ParameterTypeError(InterfaceError, builtins.TypeError):
    """A statement parameter whose Python type cannot be sent for its column."""

    def __init__(self, message: str, *, position: int, python_type: str) -> None:
        super().__init__(message)
        self.position = position
        self.python_type = python_type


class DatabaseError(YaraError):
    """An error reported by the database for a statement."""

    def __init__(
        self,
        message: str = "",
        *,
        sqlstate: str | None = None,
        detail: str | None = None,
        hint: str | None = None,
        constraint: str | None = None,
        table: str | None = None,
        column: str | None = None,
        sql: str | None = None,
        injected: str | None = None,
    ) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate
        self.detail = detail
        self.hint = hint
        self.constraint = constraint
        self.table = table
        self.column = column
        self.sql = sql
        # The fault of the database simulation (`Engine.fail`) that raised this, if one did.
        self.injected = injected


class OperationalError(DatabaseError):
    """The database could not do the work: lost connections, locks, resources."""


class DBConnectionError(OperationalError, builtins.ConnectionError):
    """The server could not be reached, refused the login, or dropped the connection."""


class PoolTimeoutError(OperationalError, builtins.TimeoutError):
    """No pooled connection became free within the acquire timeout."""


class IsolationDeadlockError(PoolTimeoutError):
    """Under a test's isolation, a statement waited for the shared connection while another
    task's transaction held it without running anything (that task awaits this one)."""


class QueryCanceledError(OperationalError):
    """The statement was cancelled (SQLSTATE 57014): a timeout or the caller gave up."""


class TransactionRollbackError(OperationalError):
    """A serialization failure or deadlock; retrying the transaction may succeed."""


class IntegrityError(DatabaseError):
    """A constraint was violated: unique, foreign key, not null or check."""


class ProgrammingError(DatabaseError):
    """Bad SQL: a syntax error, a missing table or column, a wrong parameter count."""


class DataError(DatabaseError):
    """A value the database (or the engine, decoding it) cannot represent."""


class NotSupportedError(DatabaseError):
    """A feature or type the database or the engine does not support."""


class InternalError(DatabaseError):
    """The transaction is in a state that allows no more work, or the server failed."""


# The ORM's own mistakes: raised before any SQL is sent.


class FieldError(YaraError, AttributeError):
    """An unknown field, lookup or relation was named; the message lists the valid ones."""


class ValidationError(YaraError, ValueError):
    """A value does not fit its field: the message names the model, the field and the value."""

    def __init__(self, message: str, *, model: str = "", field: str = "", value: object = None):
        super().__init__(message)
        self.model = model
        self.field = field
        self.value = value


class RelationTypeError(ValidationError, TypeError):
    """An object of the wrong model given for a relation (assigned, or compared in a filter):
    a ValidationError, and a TypeError as Tortoise raises it in filters."""


class NullValueError(ValidationError, IntegrityError):
    """None for a field that is not nullable, caught before the INSERT or UPDATE is sent. It
    is both a ValidationError and (as the database's NOT NULL would report it, and as
    Tortoise raises it) an IntegrityError with SQLSTATE 23502."""

    def __init__(self, message: str, *, model: str = "", field: str = "", value: object = None):
        super().__init__(message, model=model, field=field, value=value)
        self.sqlstate = "23502"
        self.column = field


class NotExistOrMultiple(YaraError, LookupError):
    """`get()` found no row, or more than one. Takes a message, or (as in Tortoise) the model
    class, which makes the message."""

    TEMPLATE = ""

    def __init__(self, model: object = None, *args: object) -> None:
        self.model = model if isinstance(model, type) else None
        if self.model is None and model is not None:
            args = (model, *args)
        super().__init__(*args)

    def __str__(self) -> str:
        if self.model is not None and not self.args:
            return self.TEMPLATE.format(self.model.__name__)
        return super().__str__()


class DoesNotExist(NotExistOrMultiple):
    """`get()` found no row."""

    TEMPLATE = 'Object "{}" does not exist'


class MultipleObjectsReturned(NotExistOrMultiple):
    """`get()` found more than one row."""

    TEMPLATE = 'Multiple objects returned for "{}", expected exactly one'


class ObjectDoesNotExistError(DoesNotExist, KeyError):
    """`Model[pk]` found no row."""

    def __init__(self, model: type, pk_name: str, pk_val: object) -> None:
        super().__init__(model)
        self.pk_name = pk_name
        self.pk_val = pk_val

    def __str__(self) -> str:
        assert self.model is not None
        return f"{self.model.__name__} has no object with {self.pk_name}={self.pk_val}"


class RelationNotLoaded(YaraError, AttributeError):
    """A relation was used before it was fetched; the message says how to load it."""


#: Tortoise's name for `RelationNotLoaded`.
NoValuesFetched = RelationNotLoaded


class ParamsError(YaraError, ValueError):
    """A queryset method was called with arguments it cannot use."""


class IncompleteInstanceError(YaraError):
    """An instance loaded with `only()` cannot be saved whole."""


class UnSupportedError(YaraError):
    """The operation is not supported (by this backend, or at all)."""


class TransactionManagementError(YaraError):
    """A transaction was used outside its block, or the ORM has no connection to run it on."""
