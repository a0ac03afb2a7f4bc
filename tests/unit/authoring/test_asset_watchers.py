"""Asset watchers: an asset's named triggers, checked, kept in its stored form; and the
file triggers that fire once per new file."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from millstream import Asset
from millstream.authoring.asset_watchers import AssetWatcher
from millstream.exceptions import DagDefinitionError
from millstream.triggerer.base import TriggerEvent, load_trigger
from millstream.triggerer.triggers.file import DirectoryFileDeleteTrigger, FileDeleteTrigger


def test_an_asset_keeps_its_watchers_through_its_json() -> None:
    watcher = AssetWatcher(name="w", trigger=FileDeleteTrigger(filepath="/data/ready"))
    asset = Asset("landing", watchers=[watcher])
    again = Asset.from_json(asset.as_json())
    assert again == asset
    (kept,) = again.watchers
    assert kept == watcher and kept.trigger is None  # rebuilt by the triggerer
    built = load_trigger(kept.classpath, kept.kwargs)
    assert isinstance(built, FileDeleteTrigger) and built.filepath == "/data/ready"
    assert "watchers" not in Asset("plain").as_json()  # other assets' JSON is unchanged


@pytest.mark.parametrize(("watchers", "message"), [
    ("w", "watchers must be a list of AssetWatcher"),
    ([object()], "watchers must be AssetWatcher objects"),
    ([AssetWatcher("w", FileDeleteTrigger("/a")), AssetWatcher("w", FileDeleteTrigger("/b"))],
     "two watchers have the same name"),
])
def test_bad_watchers_are_refused(watchers: object, message: str) -> None:
    with pytest.raises(DagDefinitionError, match=message):
        Asset("landing", watchers=watchers)


def test_a_watcher_needs_a_name_and_a_millstream_trigger() -> None:
    with pytest.raises(DagDefinitionError, match="name must be a non-empty string"):
        AssetWatcher(name="", trigger=FileDeleteTrigger("/a"))
    with pytest.raises(DagDefinitionError, match="must be a millstream trigger"):
        AssetWatcher(name="w", trigger=object())


async def _first(trigger: FileDeleteTrigger) -> TriggerEvent:
    return await anext(trigger.run())


def test_file_delete_triggers_fire_when_the_file_appears_and_delete_it(tmp_path: Path) -> None:
    flag = tmp_path / "flags" / "us.flag"
    flag.parent.mkdir()
    flag.write_text("x")
    event = asyncio.run(_first(FileDeleteTrigger(str(flag), poke_interval=0.01)))
    assert event.payload == {"status": "success", "filepath": str(flag)}
    assert not flag.exists()  # the next watch waits for the next file

    async def later() -> TriggerEvent:
        waiting = asyncio.ensure_future(_first(DirectoryFileDeleteTrigger(
            str(flag.parent), "us.flag", poke_interval=0.01)))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        flag.write_text("y")
        return await asyncio.wait_for(waiting, 5)

    assert asyncio.run(later()).payload["filepath"] == str(flag)
    assert not flag.exists()
