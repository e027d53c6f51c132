#!/usr/bin/env bash
# Tortoise ORM 1.1.9's own test suite, imports renamed to yara_orm, run against yara_orm; then
# the share of the tests Tortoise itself passes (tortoise-1.1.9-passes-*.txt) that pass here.
# Usage: tools/tortoise_compat/run.sh [sqlite|pg]   (pg: PostgreSQL at $PG_SERVER_URL)
# Needs network access to PyPI once (the sdist), and the dev venv (.venv).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
backend="${1:-sqlite}"
work="${TMPDIR:-/tmp}/yara-tortoise-compat"
mkdir -p "$work"
cd "$work"
if [ ! -d tortoise_orm-1.1.9 ]; then
    "$root/.venv/bin/pip" download -q --no-deps --no-binary :all: tortoise-orm==1.1.9
    tar xzf tortoise_orm-1.1.9.tar.gz
fi
# Their tests need these beside pytest-asyncio (not yara-orm's dependencies).
"$root/.venv/bin/pip" install -q pytest-timeout pyyaml iso8601 pypika-tortoise
rm -rf run && mkdir run && cp -r tortoise_orm-1.1.9/tests run/tests
cp "$here/conftest_yara.py" run/conftest.py
cd run
# Module paths and the class name change; Tortoise's other names are yara_orm's aliases.
find tests -name "*.py" -print0 | xargs -0 sed -i -E \
  -e 's/\btortoise_test_context\b/TTCTX_KEEP/g' -e 's/\bTortoiseContext\b/TCTX_KEEP/g' \
  -e 's/\bTortoiseConfig\b/TCFG_KEEP/g' -e 's/\bTortoise\b/YaraOrm/g' \
  -e 's/\btortoise\./yara_orm./g' -e 's/\b(from|import) tortoise\b/\1 yara_orm/g' \
  -e 's/TTCTX_KEEP/tortoise_test_context/g' -e 's/TCTX_KEEP/TortoiseContext/g' \
  -e 's/TCFG_KEEP/TortoiseConfig/g'
printf '[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = session\nasyncio_default_test_loop_scope = session\naddopts = -p no:yara -p no:cacheprovider -q\nfilterwarnings =\n    ignore::DeprecationWarning\n' > pytest.ini
if [ "$backend" = pg ]; then
    export TORTOISE_TEST_DB="${PG_SERVER_URL:-postgres://postgres@127.0.0.1:5432}/test_{}"
fi
timeout 1800 "$root/.venv/bin/python" -m pytest tests -p no:randomly --timeout 60 \
    --continue-on-collection-errors --junitxml="$work/yara-$backend.xml" > "$work/yara-$backend.txt" 2>&1 || true
"$root/.venv/bin/python" "$here/compare.py" "$work/yara-$backend.xml" "$here/tortoise-1.1.9-passes-$backend.txt"
