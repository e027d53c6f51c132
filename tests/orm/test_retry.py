"""@retry(): a transaction run again from the start after a serialization failure or a
deadlock, tested with faults injected by the engine's database simulation."""

from __future__ import annotations

import pytest

from tests.orm.models import Author
from yara_orm import (
    ConfigurationError,
    IntegrityError,
    TransactionRollbackError,
    connections,
    in_transaction,
    retry,
)


async def names() -> list[str]:
    return [a.name async for a in Author.all()]


async def test_a_serialization_failure_is_retried_until_it_succeeds(orm: str) -> None:
    calls = 0

    @retry(attempts=3, backoff=0)
    async def hire(name: str) -> Author:
        nonlocal calls
        calls += 1
        await Author.create(name=f"{name} (attempt {calls}, first write)")
        return await Author.create(name=name)

    engine = connections.engine()
    # The first two attempts fail part-way (what they wrote first is rolled back with them).
    with engine.fail("INSERT INTO author", "serialization_failure", after=1, times=1):
        with engine.fail("INSERT INTO author", "deadlock", after=2, times=1):
            author = await hire("Ada")
    assert calls == 3
    assert author.name == "Ada"
    assert await names() == ["Ada", "Ada (attempt 3, first write)"]


async def test_the_last_failure_is_raised_when_attempts_run_out(orm: str) -> None:
    calls = 0

    @retry(attempts=2, backoff=0)
    async def hire() -> None:
        nonlocal calls
        calls += 1
        await Author.create(name="never")

    with connections.engine().fail("INSERT", "40001", times=None):
        with pytest.raises(TransactionRollbackError) as raised:
            await hire()
    assert (calls, raised.value.sqlstate) == (2, "40001")
    assert await names() == []


async def test_other_errors_are_not_retried(orm: str) -> None:
    calls = 0

    @retry(attempts=5, backoff=0)
    async def hire() -> None:
        nonlocal calls
        calls += 1
        await Author.create(name="dup")

    with connections.engine().fail("INSERT", "unique_violation"), pytest.raises(IntegrityError):
        await hire()
    assert calls == 1


async def test_inside_an_open_transaction_it_runs_once(orm: str) -> None:
    calls = 0

    @retry(attempts=5, backoff=0)
    async def hire() -> None:
        nonlocal calls
        calls += 1
        await Author.create(name="inner")

    # Only the outer transaction could start again: the inner block is a savepoint.
    with connections.engine().fail("INSERT", "deadlock"), pytest.raises(TransactionRollbackError):
        async with in_transaction():
            await hire()
    assert calls == 1


@pytest.mark.parametrize("options", [{"attempts": 0}, {"attempts": 2, "backoff": -1}])
def test_bad_options_are_refused(options: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError):
        retry(**options)  # type: ignore[arg-type]


async def test_a_serialization_failure_at_commit_is_retried(orm: str) -> None:
    calls = 0

    @retry(attempts=3, backoff=0)
    async def hire() -> None:
        nonlocal calls
        calls += 1
        await Author.create(name=f"attempt {calls}")

    # As a SERIALIZABLE transaction meets it: every statement ran, the COMMIT is refused.
    with connections.engine().fail("COMMIT", "serialization_failure") as fault:
        await hire()
    assert (calls, fault.injected) == (2, 1)
    assert await names() == ["attempt 2"]
