"""Every case of the bad-input catalogue (tests/bad_inputs.py) ends in a Chinese InputError
that names the fix, makes no request, writes nothing partial and logs no traceback."""
import os

import pytest

from bad_inputs import CASES


@pytest.mark.parametrize("entry,what,call,phrase", CASES, ids=["%s: %s" % (c[0], c[1]) for c in CASES])
def test_bad_input(coze, sim, tmp_path, quiet_log, entry, what, call, phrase):
    before = os.listdir(str(tmp_path))
    with pytest.raises(coze.InputError) as info:
        call(coze, str(tmp_path), sim.url)
    message = str(info.value)
    assert phrase in message
    assert any("\u4e00" <= ch <= "\u9fff" for ch in message)  # Chinese first
    assert sum(sim.stats()["requests"].values()) == 0, "refused before any network call"
    created = [name for name in os.listdir(str(tmp_path)) if name not in before]
    inputs = [name for name in created if name.startswith(("表", "空表", "in"))]
    assert sorted(created) == sorted(inputs), "nothing partial is written: %s" % created
    assert not any("Traceback" in line for line in quiet_log)


def test_catalogue_is_big_enough():
    assert len(CASES) >= 25
    assert {entry for entry, _, _, _ in CASES} >= {"ask", "chat", "run_workflow", "main(args)", "batch"}
