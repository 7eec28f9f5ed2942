"""The simulator's state: conversations, chats, files, settings, counters, faults and limits.

One Simulator serves one fake Coze account. Handlers (server.py and the service files) read
and change it under `sim.lock`.
"""
import json
import random
import threading
import time

from .faults import parse_faults, pick_fault
from .ids import IdSource
from .oauth import OAuthApp
from .options import parse_question_workflows, parse_slow_workflows, parse_tool_bots


class Simulator(object):
    """The fake Coze service. Use as a context manager, or start()/stop()."""

    def __init__(self, latency=0.5, token=None, qps=None, qpm=None, qpd=None, quota=None, unpublished=(),
                 max_prompt_chars=100000, faults=None, seed=0, stuck_cap=30.0, host="127.0.0.1", port=0,
                 max_body_bytes=20 * 1024 * 1024, question_workflows=(), slow_workflows=None, tool_bots=None,
                 async_workflows=True, sync_limit=90.0, ping_interval=1.0, oauth_app_id=None, oauth_key_id=None,
                 oauth_public_key=None, oauth_token_life=None, image_answers=False):
        self.latency = latency
        self.token = token
        self.qps, self.qpm, self.qpd, self.quota = qps, qpm, qpd, quota
        self.unpublished = set(str(b) for b in unpublished or ())
        self.max_prompt_chars = max_prompt_chars
        self.faults = parse_faults(faults)
        self.stuck_cap = stuck_cap
        self.max_body_bytes = max_body_bytes
        self.host, self.port = host, port
        # an OAuth service app (服务类应用): then only the access tokens issued for it are accepted
        self.oauth = None
        if oauth_app_id or oauth_key_id or oauth_public_key:
            self.oauth = OAuthApp(oauth_app_id, oauth_key_id, oauth_public_key, oauth_token_life)
        self.question_workflows = parse_question_workflows(question_workflows)  # {id: questions}
        self.slow_workflows = parse_slow_workflows(slow_workflows)              # {id: seconds}
        self.tool_bots = parse_tool_bots(tool_bots)                             # {bot_id: (tool, rounds)}
        self.async_workflows = async_workflows  # False: is_async gets 6003, like a free edition
        self.sync_limit = sync_limit            # a non-stream workflow run longer than this is dropped
        self.ping_interval = ping_interval      # streams send PING this often while they wait
        self.image_answers = image_answers      # answers and workflow outputs link to IMAGE_PATH on this server
        self.lock = threading.Lock()
        self.rng = random.Random(seed)
        self.new_id = IdSource(seed).new_id  # ids reproduce with the seed too
        self._server = None
        self._thread = None
        self.reset()

    # -- control ------------------------------------------------------------------------------
    def reset(self):
        with self.lock:
            self.conversations, self.chats, self.files = {}, {}, {}
            self.executions, self.interrupts = {}, {}  # workflow runs by execute id / open Interrupts by event id
            self.window = []  # times of rated requests
            self.day_count = 0
            self.forced = []  # [kind, count, path]
            self.counters = {"requests": {}, "chats_created": 0, "chats_completed": 0, "chats_failed": 0,
                             "chats_cancelled": 0, "rate_limited": 0, "faults": {},
                             "workflow_runs": 0, "tool_outputs": 0,
                             "oauth_exchanges": 0, "oauth_refused": 0, "expired_token_requests": 0}

    def stats(self):
        with self.lock:
            for chat in self.chats.values():
                self.count_end(chat)
            out = json.loads(json.dumps(self.counters))
            out["conversations"] = len(self.conversations)
            out["files"] = len(self.files)
            return out

    def inject(self, kind, count=1, path=None):
        """The next `count` requests (whose path starts with `path`) get fault `kind`."""
        with self.lock:
            self.forced.append([kind, count, path])

    def revoke_tokens(self):
        """Forget every access token issued so far, as revoking the app's authorisation does."""
        if self.oauth is not None:
            self.oauth.revoke()

    def set(self, **settings):
        with self.lock:
            for name, value in settings.items():
                setattr(self, name, parse_faults(value) if name == "faults" else value)

    @property
    def url(self):
        return "http://%s:%d" % (self.host, self._server.server_address[1])

    def start(self):
        from .server import serve  # the HTTP side; the state above needs none of it
        self._server, self._thread = serve(self)
        return self

    def stop(self):
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- state helpers (call with the lock held) -----------------------------------------------
    def count_request(self, path):
        """Count a request and choose its fault (None for most)."""
        counts = self.counters["requests"]
        counts[path] = counts.get(path, 0) + 1
        fault = pick_fault(self.forced, self.faults, self.rng, path)
        if fault:
            base = fault.split(":")[0]
            self.counters["faults"][base] = self.counters["faults"].get(base, 0) + 1
        return fault

    def count_end(self, chat):
        if chat.counted:
            return
        status = chat.status(self.stuck_cap)
        if status in ("completed", "failed"):
            chat.counted = True
            self.counters["chats_completed" if status == "completed" else "chats_failed"] += 1

    def rate_limited(self):
        """None, or the error code for a request over qps / qpm / qpd."""
        now = time.time()
        self.window = [t for t in self.window if now - t < 60]
        if self.qpd is not None and self.day_count >= self.qpd:
            return 4008
        if self.qps is not None and sum(1 for t in self.window if now - t < 1) >= self.qps:
            return 4020
        if self.qpm is not None and len(self.window) >= self.qpm:
            return 4020
        self.window.append(now)
        self.day_count += 1
        return None

