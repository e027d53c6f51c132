"""yara-orm: an async ORM for Python on a Rust engine.

The engine (``yara_orm._engine``) pools connections to PostgreSQL or SQLite, binds
parameters and decodes rows in Rust, releasing the GIL for all I/O. On top of it: models,
querysets, relations and transactions in the style of Tortoise ORM.
"""

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from yara_orm import fields, timezone
from yara_orm._engine import Engine, Injection, QueryStats, StatementRunner, Transaction
from yara_orm.connection import DatabaseClient, connections
from yara_orm.engine import connect
from yara_orm.exceptions import (
    BaseORMException,
    ConfigurationError,
    DatabaseError,
    DataError,
    DBConnectionError,
    DoesNotExist,
    FieldError,
    IncompleteInstanceError,
    IntegrityError,
    InterfaceError,
    InternalError,
    IsolationDeadlockError,
    MultipleObjectsReturned,
    NotExistOrMultiple,
    NotSupportedError,
    NoValuesFetched,
    NullValueError,
    ObjectDoesNotExistError,
    OperationalError,
    ParameterTypeError,
    ParamsError,
    PoolTimeoutError,
    ProgrammingError,
    QueryCanceledError,
    RelationNotLoaded,
    RelationTypeError,
    TransactionManagementError,
    TransactionRollbackError,
    UnSupportedError,
    ValidationError,
    YaraError,
)
from yara_orm.models import Model
from yara_orm.orm import Tortoise, YaraOrm
from yara_orm.query import Avg, Count, F, Max, Min, Prefetch, Q, QuerySet, Sum, Value
from yara_orm.transactions import atomic, in_transaction, retry
from yara_orm.typed_config import TortoiseConfig, YaraConfig

#: Tortoise's name for a connection's client.
BaseDBAsyncClient = DatabaseClient

try:
    __version__ = version("yara-orm")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"


def run_async(coroutine: Any) -> None:
    """Run `coroutine` in a fresh event loop, then close every connection (Tortoise's helper
    for scripts)."""
    import asyncio

    async def main() -> None:
        try:
            await coroutine
        finally:
            await YaraOrm.close()

    asyncio.run(main())


__all__ = [
    "Avg",
    "BaseDBAsyncClient",
    "BaseORMException",
    "ConfigurationError",
    "Count",
    "DBConnectionError",
    "DataError",
    "DatabaseClient",
    "DatabaseError",
    "DoesNotExist",
    "Engine",
    "F",
    "FieldError",
    "IncompleteInstanceError",
    "Injection",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "IsolationDeadlockError",
    "Max",
    "Min",
    "Model",
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
    "Prefetch",
    "ProgrammingError",
    "Q",
    "QueryCanceledError",
    "QuerySet",
    "QueryStats",
    "RelationNotLoaded",
    "RelationTypeError",
    "StatementRunner",
    "Sum",
    "Tortoise",
    "TortoiseConfig",
    "Transaction",
    "TransactionManagementError",
    "TransactionRollbackError",
    "UnSupportedError",
    "ValidationError",
    "Value",
    "YaraConfig",
    "YaraError",
    "YaraOrm",
    "__version__",
    "atomic",
    "connect",
    "connections",
    "fields",
    "in_transaction",
    "retry",
    "run_async",
    "timezone",
]
