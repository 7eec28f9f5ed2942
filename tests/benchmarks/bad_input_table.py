"""Render the bad-input catalogue (tests/bad_inputs.py) with the message each case really
produces from dist/coze.py, for docs/reliability.md."""
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from bad_inputs import CASES  # noqa: E402
from fault_matrix import load_dist  # noqa: E402
from yingdao_module.simulator import Simulator  # noqa: E402


def markdown():
    coze = load_dist()
    lines = ["| # | 入口 | 用户做了什么 | 用户看到的提示 |", "|---|---|---|---|"]
    with Simulator(latency=0.01) as sim:
        for number, (entry, what, call, phrase) in enumerate(CASES, 1):
            folder = tempfile.mkdtemp(prefix="coze_bad_")
            try:
                call(coze, folder, sim.url)
                message = "(没有报错!)"
            except coze.CozeError as err:
                message = str(err).replace(folder, "…")  # a temporary folder says nothing to a reader
            lines.append("| %d | `%s` | %s | %s |" % (number, entry, what, message.replace("|", "\\|")))
        assert sum(sim.stats()["requests"].values()) == 0
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown())
