"""qps="auto" reads the account's caps (GET /v1/commerce/benefit/benefits/get), falling back to
the published free-edition figures when refused; with shard K/N the caps are the account's and
each robot takes a share, so N robots together are never refused for rate."""
import json
import os
import subprocess
import sys

from helpers import BOT_ID as BOT, ROOT, TOKEN, find_python
from sheets import products, write_csv
from yingdao_module.account_limits import robot_share, slot_plan
from yingdao_module.ratelimit import slot_wait
from yingdao_module.simulator import Simulator


def test_the_simulator_serves_the_benefits_shape_the_official_sdk_reads():
    """cozepy 0.20 has no coze.benefits yet: its requester reads the endpoint into the model of
    the newer SDK's cozepy/benefits (benefit_info[].effective.item_info.total)."""
    from typing import List, Optional

    import cozepy
    from cozepy.model import CozeModel

    class ItemInfo(CozeModel):
        strategy: str
        total: int
        used: int

    class Item(CozeModel):
        status: str
        item_info: ItemInfo

    class Info(CozeModel):
        resource_id: str
        benefit_type: str
        basic: Item
        effective: Item
        extra: Optional[List[Item]] = None

    class Benefits(CozeModel):
        benefit_info: List[Info]

    with Simulator(latency=0.01, qps=7) as sim:
        coze = cozepy.Coze(auth=cozepy.TokenAuth(TOKEN), base_url=sim.url)
        got = coze._requester.request("get", sim.url + "/v1/commerce/benefit/benefits/get", False, cast=Benefits,
                                      params={"benefit_type_list": "api_run_qps", "resource_id": "workflow"})
    assert [(i.resource_id, i.benefit_type, i.effective.item_info.total) for i in got.benefit_info] == \
        [("workflow", "api_run_qps", 7)]


def test_auto_reads_the_accounts_qps_and_falls_back_when_refused(coze, backend, quiet_log):
    with Simulator(latency=0.01, qps=7) as sim:
        client = coze.Client(token=TOKEN, bot_id=BOT, base_url=sim.url)
        assert coze.read_account_qps(client.transport, "chat")[0] == 7
        sim.set(benefits_refused=True)
        qps, note = coze.read_account_qps(client.transport, "workflow")
    assert qps == 50 and "免费版" in note and "--qps" in note
    assert TOKEN not in note


def test_each_robot_takes_a_whole_share_with_a_margin():
    assert robot_share(20, (1, 3)) == 6          # 20 x 0.9 / 3 = 6 calls per second each: 18 together
    assert robot_share(60, (2, 4), whole=False) == 13
    assert robot_share(3000, (1, 3), whole=True) == 1000
    assert robot_share(2, (1, 3)) == 0            # below one per second: slots (below)
    assert robot_share(20, None) == 20


def test_slots_never_put_more_than_the_cap_into_one_second():
    """Three robots on a cap of 2: every 10 ms over 60 s, each robot starts what its slots allow;
    any 1-second window then holds at most floor(2 x 0.9) = 1 call (and each robot makes progress)."""
    starts = []
    for k in (1, 2, 3):
        plan, last, mine = slot_plan(2, (k, 3)), None, 0
        for tick in range(6000):
            now = 1000000.0 + tick * 0.01
            if slot_wait(plan, now, last) == 0:
                starts.append(now)
                last, mine = now, mine + 1
        assert mine >= 8
    starts.sort()
    assert all(b - a > 1.0 for a, b in zip(starts, starts[1:]))


def run_shards(sim, source, tmp_path, qps_flag, python=None, program=None):
    env = dict(os.environ, COZE_API_TOKEN=TOKEN, COZE_BOT_ID=BOT, COZE_API_BASE=sim.url,
               COZE_STATE_DIR=str(tmp_path / "state"))
    procs = [subprocess.Popen((program or [sys.executable, "-m", "yingdao_module"]) +
                              ["batch", source, "--question-column", "商品名", "--concurrency", "4",
                               "--qps", qps_flag, "--shard", "%d/3" % k],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for k in (1, 2, 3)]
    outs = [proc.communicate(timeout=120) for proc in procs]
    return [(proc.returncode, out.decode("utf-8"), err.decode("utf-8")) for proc, (out, err) in zip(procs, outs)]


def test_three_shards_at_the_accounts_cap_are_never_refused(tmp_path):
    """The simulator's qps is the account's cap; three robots each told that cap (or auto)
    together stay under it: zero 4020. (Before shares, each ran at the whole cap: refused.)"""
    source = write_csv(tmp_path / "in.csv", products(36))
    with Simulator(latency=0.05, qps=6) as sim:
        results = run_shards(sim, source, tmp_path, "6")
        stats = sim.stats()
    assert stats["rate_limited"] == 0
    assert stats["chats_created"] == 36
    for code, out, err in results:
        assert code == 0 and "Traceback" not in err, err
        assert json.loads(out.strip().splitlines()[-1])["done"] == 12
        assert "分片" in err and "本机 1" in err


def test_three_shards_read_auto_from_the_account_on_the_single_file_under_37(tmp_path):
    """dist/coze.py on Python 3.7: --qps auto reads the simulator's cap of 2 (below one call per
    second per robot: slots), and three robots are still never refused."""
    python = find_python("3.7") or sys.executable
    source = write_csv(tmp_path / "in.csv", products(6))
    with Simulator(latency=0.05, qps=2) as sim:
        results = run_shards(sim, source, tmp_path, "auto", program=[python, os.path.join(ROOT, "dist", "coze.py")])
        stats = sim.stats()
    for code, out, err in results:
        assert code == 0 and "Traceback" not in err, err
        assert "QPS=2" in err and "轮流" in err
    assert stats["rate_limited"] == 0
    assert stats["chats_created"] == 6


def test_auto_for_workflow_rows_reads_the_workflow_cap(coze, tmp_path, quiet_log):
    source = write_csv(tmp_path / "in.csv", [["城市"], ["杭州"]])
    with Simulator(latency=0.01, qps=9) as sim:
        summary = coze.batch(source, workflow_id="7402000000000000001", token=TOKEN, base_url=sim.url, qps="auto")
    assert summary["done"] == 1
    assert any("工作流限额:QPS=9" in line for line in quiet_log)


def test_a_token_exchange_happens_before_the_rate_limit_slot_is_taken(coze):
    """An exchange between the slot and the send made a robot's requests reach the service late and
    together (2 refusals in the 3,000-row soak): the token comes first, then the slot, then the send."""
    import pytest
    events = []

    class Auth(object):
        renewable = False

        def authorization(self, transport, deadline=None):
            events.append("token")
            return "Bearer x"

    class Backend(object):
        name = "fake"

        def send(self, *args):
            events.append("send")
            raise coze.NetworkError("stop here")

    transport = coze.Transport("http://127.0.0.1:9", Auth(), backend=Backend(),
                               before_request=lambda method, path: events.append("slot"))
    with pytest.raises(coze.NetworkError):
        transport.open("POST", "/v3/chat", body={})
    assert events[:2] == ["token", "slot"] and events[-1] == "send"
