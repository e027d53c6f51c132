"""yara-orm: an async ORM for Python on a Rust engine.

The engine (``yara_orm._engine``) pools connections to PostgreSQL or SQLite, binds
parameters and decodes rows in Rust, releasing the GIL for all I/O.
"""

from yara_orm._engine import Engine, QueryStats, StatementRunner, Transaction
from yara_orm.engine import connect
from yara_orm.exceptions import (
    ConfigurationError,
    DatabaseError,
    DataError,
    DBConnectionError,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ParameterTypeError,
    PoolTimeoutError,
    ProgrammingError,
    QueryCanceledError,
    TransactionRollbackError,
    YaraError,
)

__all__ = [
    "ConfigurationError",
    "DBConnectionError",
    "DataError",
    "DatabaseError",
    "Engine",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "NotSupportedError",
    "OperationalError",
    "ParameterTypeError",
    "PoolTimeoutError",
    "ProgrammingError",
    "QueryCanceledError",
    "QueryStats",
    "StatementRunner",
    "Transaction",
    "TransactionRollbackError",
    "YaraError",
    "connect",
]
