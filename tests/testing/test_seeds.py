"""Seeds follow pytest's fixture scoping: the rootdir's `yara_seed` is the session's, and a
directory's (or module's) override applies to its tests only, layered on the session's."""

from __future__ import annotations

import textwrap

import pytest

from tests.testing.conftest import Runner

ROOT_SEED = """
import pytest
from app_models import Author


@pytest.fixture(scope="session")
def yara_seed():
    async def seed():
        await Author.create(name="root")
    return seed
"""

SUB_SEED = """
import pytest
from app_models import Author


@pytest.fixture(scope="session")
def yara_seed():
    async def seed():
        await Author.create(name="sub")
    return seed
"""

ROOT_TESTS = """
from app_models import Author


async def test_root_sees_only_the_session_seed(yara_db):
    assert sorted(a.name for a in await Author.all()) == ["root"]
"""

SUB_TESTS = """
from app_models import Author


async def test_sub_sees_both_seeds(yara_db):
    assert sorted(a.name for a in await Author.all()) == ["root", "sub"]
    await Author.create(name="written")


async def test_sub_rolls_back_to_its_seed(yara_db):
    assert sorted(a.name for a in await Author.all()) == ["root", "sub"]
"""


def _write(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(ROOT_SEED)
    sub = pytester.mkpydir("sub")
    (sub / "conftest.py").write_text(textwrap.dedent(SUB_SEED))
    (sub / "test_sub.py").write_text(textwrap.dedent(SUB_TESTS))
    pytester.makepyfile(test_root=ROOT_TESTS)


@pytest.mark.parametrize(
    "order",
    [("sub", "test_root.py"), ("test_root.py", "sub"), ("test_root.py", "sub", "later")],
)
def test_a_directory_seed_applies_to_its_tests_whatever_runs_first(
    app: Runner, pytester: pytest.Pytester, order: tuple[str, ...]
) -> None:
    _write(pytester)
    # A directory without a seed of its own, after one with: back to the session's seed.
    later = pytester.mkpydir("later")
    (later / "test_later.py").write_text(textwrap.dedent(ROOT_TESTS))
    result = app(*order)
    result.assert_outcomes(passed=len(order) + 1)


def test_a_module_seed_and_transaction_tests_beside_a_layer(
    app: Runner, pytester: pytest.Pytester
) -> None:
    pytester.makeconftest(ROOT_SEED)
    result = app(
        test_module_seed="""
        import pytest
        from app_models import Author


        @pytest.fixture(scope="session")
        def yara_seed():
            async def seed():
                await Author.create(name="module")
            return seed


        async def test_layered(yara_db):
            assert sorted(a.name for a in await Author.all()) == ["module", "root"]


        @pytest.mark.yara_db(transaction=True)
        async def test_committed_then_emptied(yara_db):
            assert sorted(a.name for a in await Author.all()) == ["module", "root"]
            await Author.create(name="committed")


        async def test_layer_again_without_the_committed_row(yara_db):
            assert sorted(a.name for a in await Author.all()) == ["module", "root"]
        """,
        test_plain="""
        from app_models import Author


        async def test_only_root(yara_db):
            assert [a.name for a in await Author.all()] == ["root"]
        """,
    )
    result.assert_outcomes(passed=4)


def test_nested_directory_seeds_stack_one_level_each(
    app: Runner, pytester: pytest.Pytester
) -> None:
    # The common layout: no seed at the rootdir, one in tests/, another in tests/sub/.
    def seed_file(name: str) -> str:
        return SUB_SEED.replace('name="sub"', f'name="{name}"')

    tests = pytester.mkpydir("tests")
    (tests / "conftest.py").write_text(textwrap.dedent(seed_file("tests")))
    sub = tests / "sub"
    sub.mkdir()
    (sub / "__init__.py").write_text("")
    (sub / "conftest.py").write_text(textwrap.dedent(seed_file("sub")))
    (sub / "test_deep.py").write_text(
        textwrap.dedent(
            """
            from app_models import Author


            async def test_sees_both_directory_seeds(yara_db):
                assert sorted(a.name for a in await Author.all()) == ["sub", "tests"]
            """
        )
    )
    (tests / "test_upper.py").write_text(
        textwrap.dedent(
            """
            from app_models import Author


            async def test_sees_its_directory_seed_only(yara_db):
                assert [a.name for a in await Author.all()] == ["tests"]
            """
        )
    )
    for order in (("tests/sub", "tests/test_upper.py"), ("tests/test_upper.py", "tests/sub")):
        app(*order).assert_outcomes(passed=2)
    app("tests/sub").assert_outcomes(passed=1)
