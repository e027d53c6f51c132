"""`PsycopgClient`. yara-orm never talks to PostgreSQL through psycopg (its SQL has `$n`
placeholders, not psycopg's `%s`), so no yara-orm client is a PsycopgClient: code that checks
for one takes its other branch, which is the asyncpg-style one."""

from yara_orm.backends import client_kind

PsycopgClient = client_kind(
    "PsycopgClient", doc="Never matches: yara-orm's PostgreSQL client is not psycopg's."
)

__all__ = ["PsycopgClient"]
