"""Batch asking: one row's chat, paid once.

A row's conversation is created first (unpaid) and journaled before its chat is sent; the chat id
goes into the journal the moment the chat exists. A killed run's chat is recovered instead of paid
again, even one killed before its id was heard of: it is found in the row's conversation (a question
there that is not the row's is reported, never paid again). A chat that failed on Coze's side is asked again
(chat_retries); with json_fields an answer that is not the JSON asked for gets one repair
question in the same conversation. Fatal errors stop the run (the row stays unfinished).
"""
import errno
import json
import os
import re
import threading

from .batch_plan import STATUS_FAILED, STATUS_OK
from .errors import CozeError
from .log import log

JSON_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.S)
JSON_REPAIR = "上次回答不是合法的 JSON,只输出包含 %s 的 JSON 对象"


class BatchStopped(Exception):
    """The run stops (fatal error, qpd, max_tokens) before this row could ask: it stays unfinished."""


def spread_json(answer):
    """The dict inside an answer (plain or in a ```json fence), or None."""
    fenced = JSON_FENCE.match(answer or "")
    try:
        value = json.loads(fenced.group(1) if fenced else answer)
    except (TypeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def cannot_write(path, err):
    """The stop reason for a file that cannot be written, in Chinese, with the way out."""
    full = (errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC))
    why = "磁盘已满(或超过了文件大小上限)" if getattr(err, "errno", None) in full \
        else "没有写权限或文件被占用" if getattr(err, "errno", None) in (errno.EACCES, errno.EPERM) else "写入失败"
    return ("写不进文件 %s:%s(%s)。已停止,不再发新的请求;已拿到的回答先留在内存里,结束前再写一次。"
            "请腾出磁盘空间(或换一个能写的 output_path)后重跑同一命令,从断点继续,已写入的行不会重复付费"
            % (os.path.basename(path), why, getattr(err, "strerror", None) or type(err).__name__))


def still_failed(message, asked_again):
    """A failed chat's text once no retry is left: how often it was asked, and how to ask the failed rows again."""
    tried = "已重问 %d 次仍失败" % asked_again if asked_again else "没有重问(chat_retries 为 0)"
    return ("%s(%s)。之后重跑失败的行:同一命令加 --retry-failed(影刀里 retry_failed 填 是),已成功的行不会重复付费"
            % (message, tried))


class RowExtras(object):
    """What a row carries besides its question: its files (RowFiles, column `files_at`) and the
    files its answer links to (Downloader). Either may be None."""

    def __init__(self, row_files=None, files_at=None, downloader=None):
        self.row_files, self.files_at, self.downloader = row_files, files_at, downloader

    def cell(self, row):
        """The row's files cell, stripped as the planner reads it for the journal key ("" without one)."""
        cells, at = row.cells, self.files_at
        value = cells[at] if at is not None and at < len(cells) else None
        return "" if value is None else str(value).strip()

    def message_parts(self, row):
        """The row's files as message parts (RowFileError names a missing one)."""
        return self.row_files.message_parts(self.cell(row), row.number) if self.row_files and self.cell(row) else None

    def fetch(self, record, texts):
        """Save what the answer links to; the paths go to record["files"], problems to its error
        (the answer stays a success)."""
        if self.downloader is None:
            return
        try:
            saved, problems = self.downloader.save_all(texts)
        except Exception as err:  # whatever a download raises, the paid answer is kept: a row problem
            saved, problems = [], ["下载失败(%s)" % type(err).__name__]
        record["files"] = ";".join(saved)
        if problems:
            record["error"] = ";".join([record["error"]] + problems if record.get("error") else problems)


class Asker(object):
    """Asks rows through a Client; `finish(record)` keeps a finished row, `halt(reason)` stops the run."""

    def __init__(self, options, client, journal, stop, finish, halt, extras=None):
        self.options, self.client, self.journal, self.stop = options, client, journal, stop
        self.finish, self.halt = finish, halt
        self.extras = extras or RowExtras()
        self.chats = self.asked_again = 0  # paid chats started by this run; failed ones asked again
        self.opened = {}  # row number -> the pending note of its chat in flight (conversation, then chat)
        self.lock = threading.Lock()

    def ask_row(self, row):
        """The row's finished record (also given to finish), or None when it stays unfinished."""
        if self.stop.is_set():
            return None
        record = {"row": row.number, "key": row.key}
        pending = row.pending
        network_tries = asked_again = 0
        try:
            files = self.extras.message_parts(row)  # before any chat: a missing file fails this row only
        except (CozeError, OSError) as err:
            record.update(status=STATUS_FAILED, answer="", tokens=0, chat_id="",
                          error=getattr(err, "message", None) or "文件没有上传成功(%s)" % type(err).__name__)
            if getattr(err, "fatal", False):
                self.halt(err.message)
                return None
            self.finish(record)
            return record
        while True:
            try:
                result, tokens, problem = self.converse(row, pending, files)
                record.update(status=STATUS_FAILED if problem else STATUS_OK, answer=result["answer"],
                              error=problem, tokens=tokens, chat_id=result["chat_id"] or "",
                              conversation_id=result.get("conversation_id") or "")
                self.extras.fetch(record, [result["answer"]])
                break
            except BatchStopped:
                return None  # asked nothing new; a chat already noted is recovered by the next run
            except CozeError as err:
                # a chat may exist: a noted one is recovered (free), a conversation looked in, before paying again
                pending = self.unasked(row)
                if err.failed_chat:
                    pending = None  # that chat failed on Coze's side: only a new one can help
                record.update(status=STATUS_FAILED, answer="", error=err.message, tokens=0,
                              chat_id=err.chat_id or "")
                if err.fatal:
                    self.halt(err.message if "重跑" in err.message else "%s。处理好后重跑同一命令即可从断点继续" % err.message)
                    return None  # a fatal answer is not the row's fault: leave it for the next run
                if err.failed_chat:
                    if asked_again < self.options.chat_retries and not self.stop.is_set():
                        asked_again += 1
                        self.ask_again(row.number, err, asked_again)
                        continue
                    record["error"] = still_failed(err.message, asked_again)
                    break
                network_tries += 1
                if not err.retryable or network_tries == 2 or self.stop.wait(2.0):
                    if err.retryable and pending:
                        record["pending"] = pending  # --retry-failed recovers that chat instead of paying again
                    break
        self.unasked(row)
        self.finish(record)
        return record

    def unasked(self, row):
        """The pending note of the row's chat in flight (its conversation, then the chat once it
        exists), forgotten; or None."""
        with self.lock:
            return self.opened.pop(row.number, None)

    def note(self, row, pending):
        """Journal what the row has in flight (fsynced); False (and the run halts) when it cannot be written."""
        try:
            self.journal.append({"row": row.number, "key": row.key, "pending": pending})
            return True
        except (OSError, ValueError) as err:
            self.halt(cannot_write(self.journal.path, err))
            return False

    def ask_again(self, number, err, attempt):
        """Say (truthfully: it happens now) that a chat failed on Coze's side is asked again, paid again."""
        with self.lock:
            self.asked_again += 1
        log("第 %d 行的对话在扣子那边失败(%s):自动重问(第 %d/%d 次,多付一次对话)"
            % (number, err.message, attempt, self.options.chat_retries))

    def converse(self, row, pending, files=None):
        """(result, tokens, problem) of one row: the answer of a chat a killed run already paid for,
        or of a new chat; with json_fields, one repair question in the same conversation."""
        result, conversation = self.resume(row, pending) if pending else (None, None)
        repaired = bool(result and pending.get("repair"))
        earlier_tokens = pending.get("tokens", 0) if repaired else 0
        if result is None:
            result = self.new_chat(row, row.question, conversation, files=files)
        tokens = earlier_tokens + result["usage"]["token_count"]
        problem = self.json_problem(result["answer"])
        if problem and not repaired:
            result = self.new_chat(row, JSON_REPAIR % "、".join(self.options.json_fields),
                                   result["conversation_id"], tokens)
            tokens += result["usage"]["token_count"]
            problem = self.json_problem(result["answer"])
        return result, tokens, "回答不是合法的 JSON(追问一次后仍然不是):%s" % problem if problem else ""

    def new_chat(self, row, question, conversation_id=None, tokens_before=None, files=None):
        """Ask, paid (the client waits for the rate limits), in the row's conversation (created and
        journaled first when it has none), noting the chat id in the journal the moment the chat exists."""
        if self.stop.is_set():
            raise BatchStopped()
        if conversation_id is None:
            conversation_id = self.open_conversation(row)

        def noted(chat_id, conversation):
            pending = {"chat_id": chat_id, "conversation_id": conversation}
            if tokens_before is not None:
                pending.update(repair=True, tokens=tokens_before)
            with self.lock:
                self.chats += 1
                self.opened[row.number] = pending  # a retry recovers this chat instead of paying again
            self.note(row, pending)  # when it fails, the answer itself is still kept (finish)
        return self.client.chat(question, conversation_id=conversation_id, on_created=noted, tools=self.options.tools,
                                files=files)

    def open_conversation(self, row):
        """A new conversation for the row (unpaid), journaled before any chat is sent in it: a run
        killed before it hears of the chat finds the chat there instead of paying again."""
        conversation = self.client.new_conversation()
        if not self.note(row, {"conversation_id": conversation}) or self.stop.is_set():
            raise BatchStopped()
        with self.lock:
            self.opened[row.number] = {"conversation_id": conversation}
        return conversation

    def resume(self, row, pending):
        """(result, None) of the chat a killed run paid for; (None, conversation) when the row's
        conversation holds no chat yet (ask there); (None, None): ask anew. APIError when the
        conversation holds a chat that cannot be told to be the row's."""
        with self.lock:
            self.opened[row.number] = pending  # a network error while looking keeps it for the retry
        if pending.get("chat_id"):
            return self.recover(pending), None
        conversation = pending["conversation_id"]
        chat_id = self.client.find_chat(conversation, row.question)
        if chat_id is None:
            return None, conversation
        log("第 %d 行中断前已建立的对话 %s 在它的会话里找到了:找回回答,不重新提问" % (row.number, chat_id))
        self.unasked(row)
        found = {"chat_id": chat_id, "conversation_id": conversation}
        self.note(row, found)
        return self.recover(found), None

    def recover(self, pending):
        """The result of a chat a killed run paid for, or None when it cannot be had (ask again)."""
        try:
            return self.client.recover(pending["chat_id"], pending["conversation_id"], tools=self.options.tools)
        except CozeError as err:
            if err.fatal and not err.chat_id:  # the account's problem (token, quota now): stop
                raise
            if err.retryable:  # the network or a busy server: the chat is tried again later, never paid again
                raise
            # the old chat failed, or cannot be found any more: this row is asked again
            log("中断前的对话 %s 没有找回(%s),重新提问" % (pending["chat_id"], err.message))
            return None

    def json_problem(self, answer):
        """What is wrong with an answer that must be a JSON object with json_fields, or ""."""
        fields = self.options.json_fields
        if not fields:
            return ""
        value = spread_json(answer)
        if value is None:
            return "不是 JSON 对象"
        missing = [name for name in fields if name not in value]
        return "缺少键 %s" % "、".join(missing) if missing else ""
