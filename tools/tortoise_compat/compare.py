"""The share of the tests Tortoise 1.1.9 passes (one id per line) that yara_orm passes too
(a junit XML of the renamed run), overall and without the modules that test Tortoise's own
internals; the modules still failing most, by count."""

import sys
import xml.etree.ElementTree as ET
from collections import Counter

TOOLING = ("tests.migrations", "tests.cli", "tests.benchmarks")
# pypika objects, ConnectionHandler/context internals, schema generator and migration
# machinery, exact SQL/DDL text and describe()'s dict shape: not part of yara_orm's surface.
INTERNALS = (
    "tests.test_q",
    "tests.test_query_api",
    "tests.test_connection",
    "tests.model_setup.test_init",
    "tests.test_context",
    "tests.model_setup.test_bad_relation_reference",
    "tests.backends.test_password_factory",
    "tests.schema",
    "tests.fields.test_db_default",
    "tests.fields.test_fk.TestDeconstruct",
    "tests.fields.test_db_index",
    "tests.test_primary_key",
    "tests.test_datetime_migration_integration",
    "tests.test_case_when",
    "tests.utils.test_describe_model",
    "tests.test_sql",
)


def passed(junit: str) -> set[str]:
    cases = ET.parse(junit).iter("testcase")
    return {
        f"{c.get('classname')}::{c.get('name')}"
        for c in cases
        if not any(child.tag in ("failure", "error", "skipped") for child in c)
    }


def main(junit: str, reference: str) -> None:
    ours = passed(junit)
    theirs = {line.strip() for line in open(reference) if line.strip()}
    user = {t for t in theirs if not t.startswith(TOOLING)}
    surface = {t for t in user if not t.startswith(INTERNALS)}
    for label, chosen in (("without tooling", user), ("without internals too", surface)):
        share = len(ours & chosen) / len(chosen)
        print(f"{label}: {len(ours & chosen)}/{len(chosen)} = {share:.1%}")
    for module, count in Counter(t.split("::")[0] for t in surface - ours).most_common(25):
        print(f"  {count:4d} {module}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
