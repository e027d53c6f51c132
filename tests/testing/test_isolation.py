"""Every test starts from the same database: nothing one test writes reaches the next."""

from __future__ import annotations

from textwrap import dedent
from typing import cast

from tests.testing.conftest import Runner
from yara_orm import Engine, InterfaceError
from yara_testing import isolation


def test_rows_and_commits_do_not_leak_between_tests(app: Runner) -> None:
    result = app(
        test_leak="""
        from app_models import Author
        from yara_orm import connections, in_transaction


        async def test_writes(yara_db):
            await Author.create(name="plain")
            async with in_transaction():
                await Author.create(name="committed")
            await connections.get().execute("INSERT INTO author (name) VALUES ('raw')")
            assert await Author.all().count() == 3


        async def test_sees_nothing(yara_db):
            assert await Author.all().count() == 0


        async def test_failed_inner_transaction_rolls_back_alone(yara_db):
            await Author.create(name="kept")
            try:
                async with in_transaction():
                    await Author.create(name="dropped")
                    raise ValueError("boom")
            except ValueError:
                pass
            assert [a.name for a in await Author.all()] == ["kept"]


        async def test_caught_integrity_error_does_not_poison_the_test(yara_db):
            from yara_orm import IntegrityError
            await Author.create(name="dup")
            try:
                await Author.create(name="dup")
            except IntegrityError:
                pass
            await Author.create(name="after")
            assert await Author.all().count() == 2


        def test_sync_test_too(yara_db):
            assert yara_db.run(Author.all().count) == 0
            assert yara_db.backend in ("sqlite", "postgres")
        """
    )
    result.assert_outcomes(passed=5)


def test_transaction_true_commits_and_empties_the_tables(app: Runner) -> None:
    result = app(
        test_tx="""
        import pytest
        from app_models import Author
        from yara_orm import connect, connections


        @pytest.mark.yara_db(transaction=True)
        async def test_commits(yara_db):
            await Author.create(name="real")
            # A second engine (another connection) sees the committed row.
            if yara_db.backend == "postgres":
                other = await connect(yara_db.url)
                assert await other.fetch_rows("SELECT name FROM author") == [("real",)]
                await other.close()


        async def test_after_is_empty(yara_db):
            assert await Author.all().count() == 0
        """
    )
    result.assert_outcomes(passed=2)


def test_marker_alone_gives_access_and_no_request_is_refused(app: Runner) -> None:
    result = app(
        test_access="""
        import pytest
        from app_models import Author


        @pytest.mark.yara_db
        async def test_marked():
            assert await Author.all().count() == 0


        async def test_unmarked(yara_db):
            pass


        async def test_forgot_to_ask():
            await Author.all().count()
        """
    )
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*Database access not allowed (at test_access.py:15): use the `yara_db` fixture "
            "or mark the test with @pytest.mark.yara_db*"
        ]
    )
    result.stdout.no_fnmatch_line("*Traceback*")


def test_seed_runs_once_and_each_test_rolls_back_to_it(app: Runner) -> None:
    result = app(
        conftest="""
        import pytest
        from app_models import Author

        CALLS = []


        @pytest.fixture(scope="session")
        def yara_seed():
            async def seed(db):
                CALLS.append(1)
                await Author.create(name="seeded")
                await db.make(Author, _quantity=2)
            return seed
        """,
        test_seed="""
        from app_models import Author
        import conftest


        async def test_one(yara_db):
            assert await Author.all().count() == 3
            await Author.filter(name="seeded").delete()


        async def test_two(yara_db):
            assert await Author.filter(name="seeded").exists()
            assert conftest.CALLS == [1]
        """,
    )
    result.assert_outcomes(passed=2)


def test_concurrent_transactions_in_a_test(app: Runner) -> None:
    result = app(
        "--yara-deadlock-timeout=0.5",
        test_concurrent="""
        import asyncio

        import pytest
        from app_models import Author
        from yara_orm import IsolationDeadlockError, in_transaction


        async def work(i):
            async with in_transaction():
                await Author.create(name=f"t{i}")
                await asyncio.sleep(0)
                await Author.filter(name=f"t{i}").count()


        async def test_concurrent_transactions(yara_db):
            await asyncio.gather(*(work(i) for i in range(20)))
            assert await Author.all().count() == 20


        async def test_nothing_left(yara_db):
            assert await Author.all().count() == 0


        async def test_a_deadlock_fails_with_a_message(yara_db):
            go = asyncio.Event()

            async def other():
                await go.wait()
                await Author.create(name="other")

            helper = asyncio.create_task(other())
            async with in_transaction():
                await Author.create(name="mine")
                go.set()
                await helper
        """,
    )
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*IsolationDeadlockError: waited 0.5s for the test's database*"])


def test_a_bad_deadlock_timeout_is_a_usage_error(app: Runner) -> None:
    result = app("--yara-deadlock-timeout=soon", test_x="def test_x(): pass")
    result.stderr.fnmatch_lines(["*--yara-deadlock-timeout must be a positive number*'soon'*"])


def test_a_task_outliving_its_test_cannot_write_into_the_next(app: Runner) -> None:
    result = app(
        test_leak_task="""
        import asyncio

        import pytest
        from app_models import Author

        started = asyncio.Event()
        leaked = []


        @pytest.mark.asyncio(loop_scope="session")
        async def test_leaves_a_task_behind(yara_db):
            async def late_writer():
                started.set()
                await asyncio.sleep(0.2)
                try:
                    await Author.create(name="from the earlier test")
                except Exception as error:
                    leaked.append(error)

            leaked.append(asyncio.get_running_loop().create_task(late_writer()))
            await started.wait()


        @pytest.mark.asyncio(loop_scope="session")
        async def test_next_test_sees_nothing(yara_db):
            task = leaked[0]
            await task
            error = leaked[1]
            assert type(error).__name__ == "LeakedTaskError"
            assert "test_leaves_a_task_behind" in str(error)
            assert "test_next_test_sees_nothing" in str(error)
            assert await Author.all().count() == 0
        """
    )
    result.assert_outcomes(passed=2)


def test_reset_sequences_gives_the_same_keys_on_every_backend(app: Runner) -> None:
    result = app(
        test_sequences="""
        import pytest
        from app_models import Author


        @pytest.mark.yara_db(reset_sequences=True)
        async def test_first(yara_db):
            assert (await Author.create(name="a")).id == 1


        @pytest.mark.yara_db(reset_sequences=True)
        async def test_second_starts_at_one_again(yara_db):
            assert (await Author.create(name="b")).id == 1
            assert (await Author.create(name="c")).id == 2
        """
    )
    result.assert_outcomes(passed=2)


def test_transactional_fixture_commits_for_real_and_empties_after(app: Runner) -> None:
    result = app(
        test_transactional="""
        from app_models import Author
        from yara_orm import connections


        async def test_commits(yara_transactional_db):
            await Author.create(name="kept")
            engine = connections.engine()
            assert engine.isolation_depth == 0  # no rollback waits at the end
            assert await Author.all().count() == 1


        async def test_emptied(yara_db):
            assert await Author.all().count() == 0
        """
    )
    result.assert_outcomes(passed=2)


# A module-scoped fixture committing a row through yara_db_blocker, deleted after the module.
SHARED_AUTHOR = dedent(
    """
        import pytest
        from app_models import Author


        @pytest.fixture(scope="module")
        def shared_author(yara_db_blocker):
            with yara_db_blocker.unblock() as session:
                author = session.run(lambda: Author.create(name="module-wide"))
            yield author
            with yara_db_blocker.unblock() as session:
                session.run(author.delete)

    """
)


def test_db_blocker_allows_module_fixtures_and_block_refuses(app: Runner) -> None:
    result = app(
        test_blocker=SHARED_AUTHOR
        + dedent(
            """
        async def test_sees_the_module_row(shared_author, yara_db):
            assert [a.name for a in await Author.all()] == ["module-wide"]


        async def test_block_refuses_inside_a_test(yara_db, yara_db_blocker):
            with yara_db_blocker.block():
                await Author.all().count()


        def test_without_the_blocker_no_access(yara_db_blocker):
            import asyncio
            asyncio.run(Author.all().count())
        """
        ),
    )
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*Database access not allowed (at test_blocker.py:*): refused by "
            "yara_db_blocker.block()*",
            "*Database access not allowed (at test_blocker.py:*): use the `yara_db` fixture*",
        ]
    )


def test_a_module_fixture_after_other_tests_still_commits(app: Runner) -> None:
    # A finished test's level is kept open (rolled back) for the next test; what a module
    # fixture writes between tests must not land in it.
    result = app(
        "-p",
        "no:randomly",
        test_a_first="""
        from app_models import Author


        async def test_writes_and_is_rolled_back(yara_db):
            await Author.create(name="rolled back")
        """,
        test_b_then=SHARED_AUTHOR
        + dedent(
            """
        @pytest.mark.parametrize("round", [1, 2, 3])
        async def test_sees_the_module_row(shared_author, yara_db, round):
            assert [a.name for a in await Author.all()] == ["module-wide"]
            await Author.create(name=f"test {round}")
        """
        ),
        test_c_last="""
        from app_models import Author


        async def test_nothing_left(yara_db):
            assert await Author.all().count() == 0
        """,
    )
    result.assert_outcomes(passed=5)


def test_a_level_that_cannot_be_rewound_is_left() -> None:
    class FakeRewind:
        def __init__(self, lost: bool) -> None:
            self.lost = lost

        def wait(self) -> int:
            if self.lost:
                raise InterfaceError("the connection was lost")
            return 1

    class FakeEngine:
        def __init__(self, lost: bool) -> None:
            self.lost, self.isolation_depth, self.left = lost, 1, 0

        def start_rewind_isolation(self) -> FakeRewind:
            return FakeRewind(self.lost)

        def leave_isolation_blocking(self) -> int:
            self.left += 1
            self.isolation_depth -= 1
            return self.isolation_depth

    def rewind(engines: list[FakeEngine]) -> bool:
        started = isolation.start_rewind(cast("list[Engine]", engines))
        return isolation.finish_rewind(cast("list[Engine]", engines), started)

    healthy, lost = FakeEngine(lost=False), FakeEngine(lost=True)
    assert rewind([healthy]) is True
    assert healthy.left == 0 and healthy.isolation_depth == 1
    assert rewind([healthy, lost]) is False
    assert (healthy.left, lost.left) == (1, 1)


def test_a_refused_statement_never_reaches_the_database(app: Runner) -> None:
    result = app(
        test_refused="""
        from app_models import Author


        async def test_opens_the_session(yara_db):
            pass


        async def test_without_the_fixture_is_refused():
            await Author.create(name="refused")


        async def test_the_refused_row_is_not_there(yara_db):
            assert await Author.all().count() == 0
        """
    )
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*Database access not allowed (at test_refused.py:*"])
