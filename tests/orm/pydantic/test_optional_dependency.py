"""pydantic is an optional extra: the ORM never imports it, and the contrib package says how to
install it when it is missing. Each check runs in a fresh interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

WITHOUT_PYDANTIC = """
import asyncio, sys
from yara_orm import YaraOrm, fields
from yara_orm.models import Model

class Gadget(Model):
    name = fields.CharField(max_length=20)
    data = fields.JSONField(null=True)

async def main(url):
    await YaraOrm.init(url, models=[Gadget])
    await YaraOrm.generate_schemas()
    await Gadget.create(name="a", data={"k": [1, 2]})
    found = await Gadget.get(name="a")
    assert found.data == {"k": [1, 2]}, found.data
    await Gadget.all().delete()
    await YaraOrm.close()

asyncio.run(main(sys.argv[1]))
assert "pydantic" not in sys.modules, "yara_orm imported pydantic"
print("ok")
"""

BLOCKED = """
import sys
sys.modules["pydantic"] = None  # as if not installed
try:
    import yara_orm.contrib.pydantic
except ImportError as error:
    print(error)
else:
    raise SystemExit("imported without pydantic")
"""


def _run(code: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=os.getcwd(),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_orm_never_imports_pydantic(db_url: str) -> None:
    assert _run(WITHOUT_PYDANTIC, db_url) == "ok"


@pytest.mark.usefixtures("backend")
def test_missing_pydantic_says_how_to_install_it() -> None:
    message = _run(BLOCKED)
    assert "yara_orm.contrib.pydantic needs pydantic 2" in message
    assert 'pip install "yara-orm[pydantic]"' in message
