"""The batch journal: one JSON line per finished row, appended, flushed and fsynced before
anything else happens, so a crash or a closed laptop never loses an answer already paid for.
Rows finishing together share one fsync (group commit), so bookkeeping does not queue behind the disk.

Its first line binds it to the input table, the question (template or column), the sheet and
the bot: resuming with something else is refused instead of mixing answers, unless the run
restarts (the old journal is kept under another name). Lines torn by a crash, cut inside a
UTF-8 character or full of stray bytes are skipped: those rows are simply asked again.

One run at a time: an exclusive lock on `<journal>.lock` (released by the operating system
when the process dies) keeps a second robot on the same output from paying for the same rows.
"""
import errno
import json
import os
import threading
import time

from .batch_plan import STATUS_OK
from .errors import CozeError, InputError
from .filelock import FileLock
from .log import log

BOUND_FIELDS = (("input", "输入表格"), ("prompt", "提问模板"), ("question_column", "问题列"), ("sheet", "工作表"),
                ("bot_id", "智能体 bot_id"), ("workflow_id", "工作流 workflow_id"), ("server", "服务器(base_url)"))
DEMO_SERVER = "离线演示(本机模拟器:没有找到令牌)"  # what the journal binds for the offline demo


def journal_path_for(output_path):
    """Where the journal of a batch output lives: beside it."""
    return output_path + ".journal.jsonl"


def journal_header(output_path):
    """The first line of an output's journal (input, prompt, shard ...), or {} when there is none."""
    try:
        with open(journal_path_for(output_path), "rb") as handle:
            first = json.loads(handle.readline().decode("utf-8"))
    except (OSError, ValueError):
        return {}
    return first if isinstance(first, dict) and "journal" in first else {}


class CommitGroup(object):
    """Journal lines that one fsync makes durable together."""
    __slots__ = ("lines", "done", "error")

    def __init__(self):
        self.lines, self.done, self.error = [], False, None


class Journal(object):
    def __init__(self, path, header):
        self.path = path
        self.header = header
        self._handle = None
        self._cond = threading.Condition()  # workers finish rows concurrently
        self._open = None  # the CommitGroup taking lines until its fsync starts
        self._flushing = False  # a group is being written and fsynced (the lock released meanwhile)
        self._run_lock = FileLock(path + ".lock")

    # -- one run at a time ------------------------------------------------------------------------
    def take_run_lock(self, wait=False):
        """Own this journal for the run; another run holding it stops us (or we wait for it)."""
        try:
            if self._run_lock.acquire(blocking=False):
                self._run_lock.write_owner()
                return
        except OSError as err:  # the folder is read-only, the disk full
            raise InputError("无法在输出文件夹里建立运行锁 %s(%s):请换一个能写的 output_path"
                             % (self._run_lock.path, err.strerror or err))
        owner = self._run_lock.owner()
        other = "进程 %s,电脑 %s,%s 开始" % (owner.get("pid", "?"), owner.get("host", "?"), owner.get("started", "?"))
        if not wait:
            raise CozeError("另一个批处理正在处理同一个输出(%s):%s。两个一起跑会为同一行付两次钱。"
                            "等它结束后再运行(会从断点继续),或加 wait=True(命令行 --wait)排队等它结束,"
                            "或换一个 output_path" % (other, self.output_name()))
        log("另一个批处理正在处理同一个输出(%s):等它结束后接着做,不会重复付费……" % other)
        self._run_lock.acquire(blocking=True)
        self._run_lock.write_owner()

    def release_run_lock(self):
        self._run_lock.release()

    def output_name(self):
        suffix = ".journal.jsonl"
        return os.path.basename(self.path[:-len(suffix)] if self.path.endswith(suffix) else self.path)

    # -- reading back -----------------------------------------------------------------------------
    def load(self, restart=False):
        """{row number: record} from an earlier run (the last record of a row wins, except that a
        chat in flight for a row already answered, a review's, never hides that answer: it rides
        along as the answer's "pending", for the next --review to recover)."""
        records = {}
        if not os.path.exists(self.path):
            return records
        if restart:
            archived = "%s.%s.old" % (self.path, time.strftime("%Y%m%d-%H%M%S"))
            os.replace(self.path, archived)
            log("重新开始:旧的断点日志已改名保存为 %s" % os.path.basename(archived))
            return records
        torn = 0
        with open(self.path, "rb") as handle:
            for raw in handle:
                try:
                    record = json.loads(raw.strip(b"\x00\r\n\t ").decode("utf-8"))
                except ValueError:  # UnicodeDecodeError is a ValueError too
                    torn += raw.strip(b"\x00\r\n\t ") != b""
                    continue  # torn by a crash or a full disk: that row is simply asked again
                if isinstance(record, dict) and "journal" in record:
                    self.check_header(record)
                elif isinstance(record, dict) and "row" in record:
                    earlier = records.get(record["row"]) or {}
                    if not record.get("status") and earlier.get("status") == STATUS_OK and \
                            earlier.get("key") == record.get("key"):
                        record = dict(earlier, pending=record.get("pending"))
                    records[record["row"]] = record
        if torn:
            log("断点日志里有 %d 行不完整(上次可能崩溃或磁盘满),已跳过:这些行会重新提问" % torn)
        return records

    def check_header(self, earlier):
        for field, label in BOUND_FIELDS:
            before, now = earlier.get(field), self.header.get(field)
            if before and now and before != now:
                demo = "这次没有找到令牌,所以是离线演示:设置环境变量 COZE_API_TOKEN(或全局变量 coze_token)后重跑同一命令即可接着上次的运行。" \
                    if now == DEMO_SERVER else ""
                raise InputError(demo +
                    "输出 %s 的断点日志属于另一次批处理:%s 不同(上次是「%s」,这次是「%s」)。接着跑会把两种回答混在一张表里。"
                    "请换一个 output_path(输出文件),或加 restart=True(命令行 --restart)从头开始:旧日志会改名保存,不会删除"
                    % (self.output_name(), label, before, now))

    # -- writing ------------------------------------------------------------------------------------
    def append(self, record):
        """Write one record to disk and return once it is fsynced; OSError when the disk is full or
        the file unwritable. Group commit: records appended while an fsync runs wait for the next
        one, which covers them all (one fsync per group, not per record; each caller still
        returns only after its own record is durable)."""
        line = json.dumps(record, ensure_ascii=False) + "\n"  # outside the lock: rows serialise in parallel
        with self._cond:
            group = self._open
            if group is None:
                group = self._open = CommitGroup()
            group.lines.append(line)
            while not group.done:
                if self._flushing:
                    self._cond.wait()
                else:  # lead: this group is still open, so it holds our line; commit it
                    self._open, self._flushing = None, True
                    self._commit(group)
        if group.error is not None:
            raise group.error

    def _commit(self, group):
        """Write and fsync a group's lines with the lock released (called holding it)."""
        error = OSError(errno.EINTR, "日志写入被中断")  # for the waiters, if we are interrupted
        self._cond.release()
        try:
            self._write_lines(group.lines)
            error = None
        except (OSError, ValueError) as err:
            self._drop_handle()  # reopen next time: it checks for a torn last line again
            error = err
        finally:
            self._cond.acquire()
            group.done, group.error, self._flushing = True, error, False
            self._cond.notify_all()

    def _write_lines(self, lines):
        if self._handle is None:
            new = not os.path.exists(self.path) or os.path.getsize(self.path) == 0
            torn = not new and not self._ends_with_newline()
            self._handle = open(self.path, "a", encoding="utf-8")
            if torn:  # start after the torn line instead of gluing our record onto it
                self._handle.write("\n")
            if new:
                self._handle.write(json.dumps(dict(self.header, journal=1), ensure_ascii=False) + "\n")
        self._handle.write("".join(lines))
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def _ends_with_newline(self):
        with open(self.path, "rb") as handle:
            handle.seek(-1, os.SEEK_END)
            return handle.read(1) == b"\n"

    def _drop_handle(self):
        if self._handle is not None:
            try:
                self._handle.close()
            except (OSError, ValueError):
                pass  # its buffer could not be flushed either: the disk is still full
            self._handle = None

    def close(self):
        with self._cond:
            while self._flushing:
                self._cond.wait()
            self._drop_handle()
