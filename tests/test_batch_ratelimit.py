"""Rate limits that hold across retries, processes and restarts: every POST /v3/chat goes
through the limiter, and the window and the day's count are shared per account in a state
file (COZE_STATE_DIR; conftest gives each test its own)."""
import json
import os
import signal
import subprocess
import sys
import threading
import time

from helpers import ROOT
from helpers import BOT_ID as BOT, TOKEN
from sheets import products, write_csv
from yingdao_module.simulator import Simulator


def test_retries_inside_chat_wait_for_the_limiter(coze, tmp_path, quiet_log):
    """The service allows 1 chat/s while we were told 2: it answers 4020, and the transport's
    own retries (backoff shortened to ~10 ms in tests) must still wait for the limiter."""
    source = write_csv(tmp_path / "in.csv", products(8))
    with Simulator(latency=0.02, qps=1) as sim:
        started = time.monotonic()
        coze.batch(source, question_column="商品名", concurrency=3, qps=2, bot_id=BOT, token=TOKEN, base_url=sim.url)
        elapsed = time.monotonic() - started
        posts = sim.stats()["requests"]["/v3/chat"]
    assert posts <= 2 * elapsed + 3, (posts, elapsed)  # never faster than the cap we were given


def test_the_window_is_shared_by_limiters_of_the_same_account(coze, tmp_path):
    path = coze.account_state_path("pat_same", "https://api.coze.cn")
    assert "pat_same" not in path and path.startswith(os.environ["COZE_STATE_DIR"])
    first = coze.RateLimiter(qps=2, state_path=path)
    assert first.acquire() and first.acquire()
    with open(path, encoding="utf-8") as handle:
        assert "pat_same" not in handle.read()
    restarted = coze.RateLimiter(qps=2, state_path=path)  # a new process after a kill, in effect
    began = time.monotonic()
    assert restarted.acquire()
    assert time.monotonic() - began >= 0.5  # it waited for the window the first one used (about 1 s)
    other_account = coze.RateLimiter(qps=2, state_path=coze.account_state_path("pat_other", "https://api.coze.cn"))
    began = time.monotonic()
    assert other_account.acquire()
    assert time.monotonic() - began < 0.3  # another account's window is its own


def test_threads_and_processes_share_one_state_file_safely(coze, tmp_path):
    path = coze.account_state_path("pat_threads", "https://api.coze.cn")
    limiter = coze.RateLimiter(qpd=1000, state_path=path)
    threads = [threading.Thread(target=lambda: [limiter.acquire() for _ in range(25)]) for _ in range(4)]
    script = ("import sys; sys.path.insert(0, %r)\n"
              "from yingdao_module.ratelimit import RateLimiter\n"
              "limiter = RateLimiter(qpd=1000, state_path=%r)\n"
              "for _ in range(25): limiter.acquire()\n" % (ROOT, path))
    procs = [subprocess.Popen([sys.executable, "-c", script]) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(proc.wait(timeout=60) == 0 for proc in procs)
    with open(path, encoding="utf-8") as handle:
        assert json.load(handle)["count"] == 4 * 25 + 2 * 25  # no lost update


def test_a_second_run_on_another_table_stops_at_the_daily_cap_without_paying(coze, sim, tmp_path, quiet_log):
    kw = dict(question_column="商品名", qpd=5, concurrency=2, bot_id=BOT, token=TOKEN, base_url=sim.url)
    first = coze.batch(write_csv(tmp_path / "a.csv", products(8)), **kw)
    assert first["done"] == 5 and "今日额度已用完" in first["stopped_reason"]
    assert sim.stats()["chats_created"] == 5
    second = coze.batch(write_csv(tmp_path / "b.csv", products(4)), **kw)
    assert second["done"] == 0 and "今日额度已用完" in second["stopped_reason"]
    assert "0 点重置" in second["stopped_reason"] and "重跑同一命令" in second["stopped_reason"]
    assert sim.stats()["chats_created"] == 5  # the second table paid for nothing
    assert sum("今日额度已用完" in line for line in quiet_log) == 2  # once per run


def test_a_restart_right_after_a_kill_waits_for_the_window_already_used(tmp_path):
    """qpm 4: the first run starts 4 chats at once and is killed; the restarted run must not
    send anything until that minute has passed (today it bursts straight into 4020)."""
    source = write_csv(tmp_path / "in.csv", products(6))
    with Simulator(latency=0.05, qpm=4) as sim:
        env = dict(os.environ, COZE_API_TOKEN=TOKEN, COZE_BOT_ID=BOT, COZE_API_BASE=sim.url)
        command = [sys.executable, "-m", "yingdao_module", "batch", source, "--question-column", "商品名",
                   "--concurrency", "2", "--qpm", "4"]
        first = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while sim.stats()["chats_completed"] < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # the fourth answer reaches the journal; the run now waits for the next minute
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        assert sim.stats()["chats_created"] == 4
        restarted = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(4)
            assert sim.stats()["requests"].get("/v3/chat", 0) == 4  # waiting, not sending
            assert sim.stats()["rate_limited"] == 0
        finally:
            restarted.send_signal(signal.SIGKILL)
            restarted.wait(timeout=10)


def test_qps_calls_are_spread_over_the_second_not_sent_as_one_burst(coze):
    """A burst's requests reach the service tens of milliseconds apart (threads, GIL, new
    connections), which eats the window's margin and draws 4020; evenly spaced starts do not."""
    limiter = coze.RateLimiter(qps=5)
    starts = []
    for _ in range(4):
        assert limiter.acquire()
        starts.append(time.monotonic())
    assert all(later - earlier >= 0.19 for earlier, later in zip(starts, starts[1:]))
