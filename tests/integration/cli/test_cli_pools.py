"""``millstream pools list|set|delete``."""

from __future__ import annotations

import json

from cli_helpers import Cli, assert_one_line_error

from millstream.cli.common import open_store


def pools(cli: Cli) -> dict[str, tuple[int, str]]:
    return {p["name"]: (p["slots"], p["description"])
            for p in json.loads(cli.ok("pools", "list", "--json"))}


def test_set_list_and_delete(cli: Cli) -> None:
    assert pools(cli) == {"default_pool": (128, "Default pool")}
    assert "pool warehouse has 4 slot(s)" in cli.ok("pools", "set", "warehouse", "4",
                                                    "--description", "the DWH")
    cli.ok("pools", "set", "warehouse", "2")  # the description stays
    cli.ok("pools", "set", "default_pool", "16")
    assert pools(cli) == {"default_pool": (16, "Default pool"), "warehouse": (2, "the DWH")}
    table = cli.ok("pools", "list")
    assert "warehouse" in table and "the DWH" in table
    assert "pool warehouse deleted" in cli.ok("pools", "delete", "warehouse")
    assert list(pools(cli)) == ["default_pool"]
    with open_store() as store:
        events = [(a.event, a.extra["pool"]) for a in store.audit.list()]
        assert store.pools.slots("warehouse") is None
    assert events == [("pool_delete", "warehouse"), ("pool_set", "default_pool"),
                      ("pool_set", "warehouse"), ("pool_set", "warehouse")]


def test_bad_pool_changes_are_one_line_errors(cli: Cli) -> None:
    cli.ok("db", "migrate")  # an existing database: the errors are the only output
    for args, fragment in [
        (("pools", "delete", "default_pool"), "cannot be deleted"),
        (("pools", "delete", "nothing"), "no pool 'nothing'"),
        (("pools", "set", "small", "-3"), "slots must be a whole number from 0 to 1000000"),
    ]:
        code, _, err = cli(*args)
        assert code == 2, err
        assert_one_line_error(err, fragment)
    assert list(pools(cli)) == ["default_pool"]
