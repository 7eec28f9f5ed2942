"""The answer cache (batch cache=True): an answer already paid for is reused, free.

One file per account (a hash of token or app and base URL, never the token) in the state
folder, next to the rate-limit state: one JSON line per answer, appended under a file lock, so
robots running at once never mix their lines; a line torn by a kill is skipped on reading and
closed before the next append. The key is a hash of everything that shapes an answer: the bot
or workflow, json_fields and tools, the filled-in question, files (a local one by its content,
never its path alone), custom variables, parameters. Only answers are
kept (never failures); `days` makes older ones count as absent.
"""
import hashlib
import json
import os
import time

from .batch_plan import STATUS_OK
from .filelock import FileLock
from .log import log
from .ratelimit import account_of, account_state_path
from .row_files import cell_files, content_hash, is_url

CACHED_MARK = "缓存"
DAY = 86400.0


def cache_key(target, question, files=None, custom_variables=None, parameters=None):
    """The hash naming one question: target is ("bot", id) or ("workflow", id)."""
    shape = [list(target), question, files or [], custom_variables or {}, parameters or {}]
    text = json.dumps(shape, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def files_shape(cell, folder):
    """A files cell as the key sees it: URLs as written, a local file by its content (a file
    replaced at the same path is another question); "" for no files."""
    items = cell_files(cell)
    if not items:
        return ""
    shape = []
    for item in items:
        path = item if is_url(item) or os.path.isabs(item) else os.path.join(folder, item)
        try:
            shape.append(item if is_url(item) else "sha256:" + content_hash(path))
        except OSError:
            shape.append(item)  # missing or unreadable: the row fails before asking, nothing is cached
    return shape


def status_text(record):
    """The status column of a row: 成功(缓存) for an answer taken from the cache."""
    status = record.get("status", "")
    return "%s(%s)" % (status, CACHED_MARK) if record.get("cached") and status else status


def cached_record(cache, row, key):
    """The finished record of a row whose answer is in the cache (no chat, no tokens), or None."""
    entry = cache.get(key)
    if entry is None:
        return None
    return {"row": row.number, "key": row.key, "status": STATUS_OK, "answer": entry["answer"], "error": "",
            "tokens": 0, "chat_id": entry.get("chat_id") or "", "conversation_id": entry.get("conversation_id") or "",
            "messages": entry.get("messages") or "", "cached": True}


def with_cache(asker, options, settings, bot_id):
    """`asker` with the cache in front when options.cache."""
    if not options.cache:
        return asker
    target = ("workflow", options.workflow_id) if options.workflow_id else ("bot", bot_id)
    if options.json_fields:  # a plain answer is not one checked (and repaired) as JSON
        target += ("json", list(options.json_fields))
    if options.tools:  # a bot with local tools answers with what they return
        target += ("tools", sorted(options.tools))
    folder = os.path.dirname(os.path.abspath(options.input_path))
    return CachingAsker(asker, AnswerCache.for_account(settings, options.cache_days), target, folder)


class CachingAsker(object):
    """An asker (a bot's or a workflow's) with the cache in front: a row answered before is
    finished from it, free; a fresh answer is stored. Everything else is the asker's."""

    def __init__(self, asker, cache, target, folder=""):
        self.asker, self.cache, self.target, self.folder = asker, cache, target, folder
        self.cached = 0  # rows answered from the cache

    def __getattr__(self, name):
        return getattr(self.asker, name)

    def ask_row(self, row):
        # the question (a workflow's: its parameters), and the row's files (local ones by content)
        key = self.key(row)
        hit = cached_record(self.cache, row, key) if not row.pending and not self.asker.stop.is_set() else None
        if hit is not None:
            with self.asker.lock:
                self.cached += 1
            self.asker.finish(hit)
            return hit
        record = self.asker.ask_row(row)
        if record is not None and record.get("status") == STATUS_OK:  # only answers, never failures
            self.remember(row, record, key)
        return record

    def key(self, row):
        return cache_key(self.target, row.question, files_shape(self.asker.extras.cell(row), self.folder))

    def remember(self, row, record, key=None):
        """Store a row's answer (also one revised by review: it replaces the rejected one)."""
        key = key or self.key(row)
        self.cache.put(key, record.get("answer") or "", record.get("tokens") or 0, record.get("chat_id") or "",
                       record.get("conversation_id") or "", record.get("messages") or "")


class AnswerCache(object):
    """get(key) -> the stored answer (a dict) or None; put(key, answer) stores a fresh one."""

    def __init__(self, path, days=None):
        self.path, self.days = path, days
        self.entries = None  # loaded on first use: {key: entry}

    @classmethod
    def for_account(cls, settings, days=None):
        return cls(account_state_path(account_of(settings), settings.base_url, "answers", ".jsonl"), days)

    def __repr__(self):
        return "AnswerCache(%r)" % self.path

    def load(self):
        """Every readable line; a torn or foreign line is skipped, the newest entry of a key wins."""
        entries = {}
        try:
            with open(self.path, "rb") as handle:
                for line in handle:
                    try:
                        entry = json.loads(line.decode("utf-8"))
                    except ValueError:
                        continue  # a line torn by a kill, or not ours
                    if isinstance(entry, dict) and isinstance(entry.get("key"), str) and \
                            isinstance(entry.get("answer"), str):
                        entries[entry["key"]] = entry
        except OSError:
            pass  # no cache yet (or unreadable): every question is asked
        self.entries = entries
        return entries

    def get(self, key):
        if self.entries is None:
            self.load()
        entry = self.entries.get(key)
        if entry is None:
            return None
        if self.days is not None and time.time() - float(entry.get("time") or 0) > self.days * DAY:
            return None  # older than cache_days: asked again (and the new answer stored)
        return entry

    def put(self, key, answer, tokens=0, chat_id="", conversation_id="", messages=""):
        """Store one answer; a cache that cannot be written is only a warning (the answer is kept elsewhere)."""
        entry = {"key": key, "answer": answer, "tokens": tokens, "chat_id": chat_id,
                 "conversation_id": conversation_id, "messages": messages, "time": round(time.time(), 3)}
        line = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
        try:
            folder = os.path.dirname(self.path)
            if not os.path.isdir(folder):
                os.makedirs(folder)
            with FileLock(self.path + ".lock"):
                with open(self.path, "ab+") as handle:
                    handle.seek(0, os.SEEK_END)
                    if handle.tell():  # a line torn by a kill: close it, so ours stays whole
                        handle.seek(-1, os.SEEK_END)
                        if handle.read(1) != b"\n":
                            line = b"\n" + line
                    handle.write(line)
                    handle.flush()
                    os.fsync(handle.fileno())
        except OSError as err:
            log("答案缓存 %s 写不进去(%s):这个回答照常写进输出,只是下次不能从缓存取" % (self.path, err.strerror or err))
        if self.entries is not None:
            self.entries[key] = entry
