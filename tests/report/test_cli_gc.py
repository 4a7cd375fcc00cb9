"""The command line's garbage-collector settings (mst.cli.main.main): set while a command
runs, undone when it returns — also when it fails."""

from __future__ import annotations

import gc

import pytest

from mst.cli import main as cli_main


@pytest.mark.parametrize("fails", [False, True])
def test_thresholds_while_running_and_restored(monkeypatch: pytest.MonkeyPatch,
                                               fails: bool) -> None:
    seen: dict[str, object] = {}

    def fake_app() -> None:
        seen["threshold"] = gc.get_threshold()
        seen["frozen"] = gc.get_freeze_count()
        if fails:
            raise SystemExit(2)

    before = gc.get_threshold()
    monkeypatch.setattr(cli_main, "app", fake_app)
    if fails:
        with pytest.raises(SystemExit):
            cli_main.main()
    else:
        cli_main.main()
    assert seen["threshold"] == cli_main.GC_THRESHOLDS
    assert isinstance(seen["frozen"], int) and seen["frozen"] > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
