"""Soak: three robots (shards) on one account at the account's cap, signed in with an OAuth app
whose access tokens live 15 s, 10 % mixed faults, three SIGKILLs per robot and one full disk.

    python tests/benchmarks/bench_soak.py [rows]      # default 300 rows, a few minutes at most

Every row must end answered once and right; at most one extra paid chat per kill; no request
refused for rate (the simulator counts 4020s it gave for its own --qps, not injected faults);
no expired token sent; no traceback. The faults are those that must cost no extra chat
(transport errors, busy codes, cut streams, slow answers); a chat failed on Coze's side is
paid again by design and is measured in the fault matrix instead.
"""
import csv
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, ROOT)

from yingdao_module.simulator import Simulator  # noqa: E402

APP_ID, KEY_ID, BOT = "1155487900000000001", "kid_soak", "7000000000000000001"
ROBOTS, KILLS, CAP, TOKEN_LIFE, FAULT_RATE = 3, 3, 10, 15, 0.10
# not "slow": it holds a request 1 s before the server counts it, a delay beyond the 0.5 s of
# jitter a robot's window absorbs (account_limits.SHARD_JITTER); the fault matrix covers it
FAULTS = ("http500", "http502", "http429", "reset", "malformed", "4009", "cut")
FSIZE_LIMITED = r"""
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), resource.RLIM_INFINITY))
sys.argv = ["yingdao_module"] + sys.argv[2:]
from yingdao_module.cli import main
sys.exit(main(sys.argv[1:]))
"""


def make_key(folder):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    private, public = os.path.join(folder, "private.pem"), os.path.join(folder, "public.pem")
    with open(private, "wb") as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    with open(public, "wb") as handle:
        handle.write(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public


def journal_lines(path):
    try:
        with open(path, "rb") as handle:
            return sum(1 for line in handle if b'"status"' in line)
    except OSError:
        return 0


class Robot(object):
    """One shard's command line, started again after every kill until it ends by itself."""

    def __init__(self, number, folder, source, sim, private):
        self.number, self.folder = number, folder
        self.args = ["batch", source, "--question-column", "问题", "--shard", "%d/%d" % (number, ROBOTS),
                     "--qps", str(CAP), "--concurrency", "4", "--app-id", APP_ID, "--key-id", KEY_ID,
                     "--private-key", private, "--base-url", sim.url, "--bot-id", BOT]
        self.env = dict(os.environ, COZE_STATE_DIR=os.path.join(folder, "state"), PYTHONPATH=ROOT)
        for name in ("COZE_API_TOKEN", "COZE_API_BASE"):
            self.env.pop(name, None)
        stem = os.path.splitext(source)[0]
        self.output = "%s_coze.shard%dof%d.csv" % (stem, number, ROBOTS)
        self.journal = self.output + ".journal.jsonl"
        self.kills, self.disk_full, self.tracebacks, self.runs, self.proc = 0, 0, 0, 0, None

    def start(self, fsize=None):
        prefix = [sys.executable, "-c", FSIZE_LIMITED, str(fsize)] if fsize else [sys.executable, "-m", "yingdao_module"]
        self.err = open(os.path.join(self.folder, "robot%d-run%d.err" % (self.number, self.runs)), "w+b")
        self.proc = subprocess.Popen(prefix + self.args, cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL,
                                     stderr=self.err)
        self.runs += 1
        self.started_lines = journal_lines(self.journal)

    def check_ended(self):
        """True when the robot ended by itself and has nothing left; restarts it otherwise."""
        code = self.proc.poll()
        if code is None:
            return False
        self.err.seek(0)
        text = self.err.read().decode("utf-8", "replace")
        self.tracebacks += "Traceback" in text
        self.disk_full += "磁盘已满" in text
        if code == 0:
            return True
        self.start()  # stopped (disk full): the disk is freed, the same command continues
        return False


def run(rows=300, deadline=240.0):
    folder = tempfile.mkdtemp(prefix="coze_soak_")
    private, public = make_key(folder)
    source = os.path.join(folder, "soak.csv")
    with open(source, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["问题"]] + [["问题%05d" % i] for i in range(rows)])
    faults = dict((kind, FAULT_RATE / len(FAULTS)) for kind in FAULTS)
    started = time.monotonic()
    with Simulator(latency=0.05, qps=CAP, oauth_app_id=APP_ID, oauth_key_id=KEY_ID, oauth_public_key=public,
                   oauth_token_life=TOKEN_LIFE, faults=faults, seed=7) as sim:
        robots = [Robot(k, folder, source, sim, private) for k in range(1, ROBOTS + 1)]
        for robot in robots:
            robot.start()
        share = rows // ROBOTS
        ended = set()
        while len(ended) < ROBOTS and time.monotonic() - started < deadline:
            time.sleep(0.05)
            for robot in robots:
                if robot.number in ended:
                    continue
                done = journal_lines(robot.journal)
                if robot.kills < KILLS and done >= share * (robot.kills + 1) // (KILLS + 2) \
                        and done > robot.started_lines and robot.proc.poll() is None:
                    robot.proc.send_signal(signal.SIGKILL)
                    robot.proc.wait()
                    robot.kills += 1
                    # the second robot's second restart gets a disk that fills after 2 KB more journal
                    fsize = os.path.getsize(robot.journal) + 2048 if robot.number == 2 and robot.kills == 2 else None
                    robot.start(fsize)
                elif robot.check_ended():
                    ended.add(robot.number)
        for robot in robots:
            if robot.proc.poll() is None:
                robot.proc.send_signal(signal.SIGKILL)
        stats = sim.stats()
    answered = wrong = 0
    for robot in robots:
        with open(robot.output, encoding="utf-8-sig", newline="") as handle:
            for line in csv.DictReader(handle):
                right = line["状态"] == "成功" and line["问题"] in line["回答"]
                answered += right
                wrong += not right
    kills = sum(r.kills for r in robots)
    return {"rows": rows, "robots": ROBOTS, "kills": kills, "disk_full": sum(r.disk_full for r in robots),
            "answered": answered, "wrong": wrong, "chats": stats["chats_created"],
            "extra": stats["chats_created"] - rows, "rate_limited": stats["rate_limited"],
            "expired": stats["expired_token_requests"], "exchanges": stats["oauth_exchanges"],
            "faults": sum(stats["faults"].values()), "tracebacks": sum(r.tracebacks for r in robots),
            "runs": sum(r.runs for r in robots), "seconds": round(time.monotonic() - started, 1),
            "finished": len(ended) == ROBOTS}


def passed(result):
    return (result["finished"] and result["answered"] == result["rows"] and not result["wrong"]
            and result["extra"] <= result["kills"] and not result["rate_limited"] and not result["expired"]
            and not result["tracebacks"] and result["disk_full"] >= 1)


def markdown(result):
    lines = ["| 行数 | 机器人 | SIGKILL | 磁盘满 | 运行次数 | 答对 | 答错/缺 | 付费对话 | 多付 | 被限速拒绝 | 过期令牌请求 | 换令牌 | 注入故障 | Traceback | 用时 | 结论 |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
             "| %(rows)d | %(robots)d | %(kills)d | %(disk_full)d | %(runs)d | %(answered)d | %(wrong)d | %(chats)d | "
             "%(extra)d | %(rate_limited)d | %(expired)d | %(exchanges)d | %(faults)d | %(tracebacks)d | %(seconds).0f 秒 | "
             % result + ("通过" if passed(result) else "**未通过**") + " |"]
    return "\n".join(lines)


if __name__ == "__main__":
    outcome = run(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
    print(outcome)
    print(markdown(outcome))
    sys.exit(0 if passed(outcome) else 1)
