"""When a non-stream chat is checked: never more checks than the official SDK (which checks
once a second), and checks placed where the bot's recent chats ended. Deterministic: a chat is
played against a plan on a fake clock; the speed claim itself lives in tests/benchmarks/."""
import math

import pytest

from yingdao_module.polling import CompletionClock, PollPlan, server_length_bound

LENGTHS = [0.05, 0.5, 0.99, 1.0, 1.01, 1.5, 1.97, 2.5, 3.0, 4.0, 4.2, 7.9, 8.0, 12.3]


def play(plan, length, rtt=0.0):
    """Check a chat that ends `length` s after creation; returns (checks, last running offset, done offset)."""
    now, running, checks = 0.0, 0.0, 0
    while True:
        at = plan.next_check(now)
        assert at >= now  # never in the past
        checks += 1
        if at >= length:
            return checks, running, at
        running, now = at, at + rtt


def sdk_checks(length):
    return max(1, int(math.ceil(length)))


def ask_many(clock, lengths):
    """Chats of the given lengths, one after another, each learning into `clock`; their check counts."""
    counts = []
    for length in lengths:
        checks, running, done = play(PollPlan(clock.expected()), length)
        clock.learn(running, done)
        counts.append((checks, done - length))
    return counts


def test_without_history_it_checks_at_the_sdk_pace():
    plan = PollPlan()
    now, offsets = 0.0, []
    for _ in range(5):
        now = plan.next_check(now)
        offsets.append(now)
    assert offsets == [1.0, 2.0, 3.0, 4.0, 5.0]


@pytest.mark.parametrize("length", LENGTHS)
def test_no_chat_costs_more_checks_than_with_the_sdk_whatever_was_learnt(length):
    # learnt from bots faster, equal and slower than this chat: the budget holds in every case
    for history in ([], [0.3] * 4, [length] * 6, [length * 3 + 1] * 4, [1.5, 6.0, 0.7, 3.3]):
        clock = CompletionClock()
        ask_many(clock, history)
        checks, _, _ = play(PollPlan(clock.expected()), length)
        assert checks <= sdk_checks(length), (history, length, checks)


@pytest.mark.parametrize("length", [1.5, 2.5, 4.0, 4.2, 8.0, 12.3])
def test_a_steady_bot_is_checked_once_just_after_its_chats_end(length):
    clock = CompletionClock()
    counts = ask_many(clock, [length] * 12)
    assert counts[0] == (sdk_checks(length), sdk_checks(length) - length)  # first chat: the SDK's pace
    for checks, late in counts[-4:]:
        assert checks == 1 and 0 <= late <= 0.1 + 0.02  # settled: one check within the window + margin
    assert sum(checks for checks, _ in counts) < 12 * sdk_checks(length)


def test_a_bot_that_became_slower_starts_a_new_window():
    clock = CompletionClock()
    ask_many(clock, [2.5] * 10)
    counts = ask_many(clock, [6.2] * 10)
    assert counts[0][0] <= sdk_checks(6.2)
    assert counts[-1] == (1, pytest.approx(counts[-1][1])) and counts[-1][1] <= 0.12


def test_a_bot_that_became_much_faster_is_noticed_from_the_service_timestamps():
    clock = CompletionClock()
    ask_many(clock, [6.0] * 10)
    assert clock.high >= 6.0
    clock.learn(0.0, clock.high + 0.03, server_length_bound({"created_at": 100, "completed_at": 102}))
    assert clock.high == 3.0 and clock.low == 0.0  # a 2-3 s chat: the next one is checked by 3 s
    without = CompletionClock()
    ask_many(without, [6.0] * 10)
    without.learn(0.0, without.high + 0.03)
    assert without.high >= 6.0  # the check time alone would never show it


def test_after_the_expected_moments_checks_come_densely_then_once_a_second():
    plan = PollPlan([4.0])
    now, offsets = 0.0, []
    for _ in range(6):
        now = plan.next_check(now)
        offsets.append(round(now, 4))
    assert offsets == [4.0, 4.1, 4.25, 4.475, 5.0, 6.0]


def test_after_a_stream_cut_checks_start_soon_and_back_off():
    plan = PollPlan(budget=False)
    now, offsets = 30.0, []
    for _ in range(8):
        now = plan.next_check(now)
        offsets.append(round(now - 30.0, 4))
    assert offsets[0] == 0.1 and offsets[-1] - offsets[-2] == pytest.approx(1.0)


def test_server_length_bound():
    assert server_length_bound({"created_at": 100, "completed_at": 104}) == 5.0
    assert server_length_bound({"created_at": 100}) is None
    assert server_length_bound({"created_at": None, "completed_at": 3}) is None


def test_polled_chats_learn_their_bot_and_stay_within_the_sdk_budget(coze, slow_sim):
    """Against the simulator (0.3 s chats, at a 0.15 s pace): no chat takes more than the SDK's 2
    checks (the old fixed backoff at 0.1, 0.25, 0.475 s took 3), and once learnt, one."""
    sim, kw = slow_sim
    counts = []
    for round_no in range(4):
        before = sim.stats()["requests"].get("/v3/chat/retrieve", 0)
        assert "第%d问" % round_no in coze.ask("第%d问" % round_no, stream=False, **kw)
        counts.append(sim.stats()["requests"]["/v3/chat/retrieve"] - before)
    assert max(counts) <= 2, counts
    assert 1 in counts[1:], counts


@pytest.fixture
def slow_sim(coze):
    from yingdao_module.simulator import Simulator
    coze.patch("POLL_PACE", 0.15)
    with Simulator(latency=0.3) as sim:
        yield sim, dict(bot_id="7000000000000000001", token="pat_pollTEST", base_url=sim.url)
