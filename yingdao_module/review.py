"""Review (batch review=True): answers the user rejected are asked again, with the user's note.

The output gets a 审核 column (its last) once review is used, or when the user added one. The user writes 通过, or 驳回:<意见>, in the OUTPUT file (xlsx or
CSV) and runs the same command again with review: the run finds the output where it always
writes it (output_path), reads each row's verdict by the output's 行号 column, and asks only
the rejected rows again, in the row's own conversation (its id is in the journal) with
"请按审核意见修改:<意见>"; without a conversation (answers from older versions), in a new one that
quotes the question and the earlier answer. The new answer replaces the old one in the output;
the old one stays in the journal. The verdict becomes 已按意见重问(第 N 轮):<意见>, so a row is
asked again only when the user rejects it again. Verdicts the user wrote are kept on every
rewrite of the output, in any run.
"""
import os

from .batch_ask import BatchStopped
from .batch_plan import STATUS_OK, Row
from .errors import CozeError, InputError
from .log import log
from .tables import read_header, read_rows

REVIEW_COLUMN = "审核"
REJECTED, APPROVED = "驳回", "通过"
REVIEW_NOTE = "请按审核意见修改:%s"
REVIEW_FRESH = "问题:%s\n\n你上次的回答:%s\n\n请按审核意见修改:%s"
REVIEWED = "已按意见重问(第 %d 轮):%s"


def rejection_note(verdict):
    """The note of a rejected verdict (驳回:意见, 驳回:意见, 驳回 意见, 驳回), or None when not rejected."""
    text = (verdict or "").strip()
    if not text.startswith(REJECTED):
        return None
    return text[len(REJECTED):].lstrip(":: \t").strip()


def read_verdicts(output_path, sheet=None):
    """{row number: verdict} from the 审核 column of an earlier output; None when it has no such column."""
    if not os.path.isfile(output_path):
        return None
    try:
        number, header, found, _ = read_header(output_path, sheet, ("行号", REVIEW_COLUMN))
        if not found:
            return None
        row_at, verdict_at = header.index("行号"), header.index(REVIEW_COLUMN)
        verdicts = {}
        for at, cells in read_rows(output_path, sheet):
            if at <= number or len(cells) <= max(row_at, verdict_at):
                continue
            text, row = str(cells[verdict_at] or "").strip(), str(cells[row_at] or "").strip()
            if text and row.isdigit():
                verdicts[int(row)] = text
        return verdicts
    except (InputError, OSError, ValueError) as err:
        log("读不出输出表格里的「审核」列(%s):这次不按审核重问,审核意见请在输出表格修好后再运行" % err)
        return None


def review_question(record, question, note):
    """(question, conversation id) for asking a rejected row again."""
    conversation = record.get("conversation_id") or ""
    if conversation:
        return REVIEW_NOTE % (note or "请重新回答"), conversation
    return REVIEW_FRESH % (question, record.get("answer", ""), note or "请重新回答"), None


def ask_rejected(run, row, record, note):
    """Ask one rejected row again; the earlier answer is kept when this fails (nothing paid is lost).
    A review chat an interrupted run already paid for (the row's pending chat) is recovered instead."""
    question, conversation = review_question(record, row.question, note)
    try:
        result = run.asker.recover(row.pending) if (row.pending or {}).get("chat_id") else None
        if result is None:
            result = run.asker.new_chat(row, question, conversation)
    except BatchStopped:
        return False  # the run is stopping (said above): the verdict stays, asked by the next --review
    except CozeError as err:
        log("第 %d 行按审核意见重问失败(%s):保留原来的回答,审核列仍是驳回,下次 --review 再问" % (row.number, err.message))
        return False
    finally:
        run.asker.unasked(row)
    rounds = int(record.get("review_round") or 0) + 1
    conversation = result.get("conversation_id") or conversation or ""
    record = dict((name, value) for name, value in record.items() if name != "pending")
    revised = dict(record, answer=result["answer"], tokens=result["usage"]["token_count"],
                   chat_id=result["chat_id"] or "", conversation_id=conversation,
                   review_round=rounds, error="", cached=False)
    run.finish(revised)
    if hasattr(run.asker, "remember"):  # with cache=True the revised answer replaces the rejected one there
        run.asker.remember(row, revised)
    run.output.verdicts[row.number] = REVIEWED % (rounds, note)
    return True


def run_review(run, todo, taken, skipped, blank, started, summarize):
    """Rows never asked are asked as usual (`todo`), then every rejected row of `run` (a BatchRun)
    again; the summary with `review` counts."""
    from concurrent.futures import ThreadPoolExecutor  # on first use: fast import
    if todo:
        log("还有 %d 行没有回答,先照常提问" % len(todo))
        run.ask_all(todo, started)
    verdicts = run.output.verdicts
    rejected = []
    for number, cells in run.planner.rows():
        note = rejection_note(verdicts.get(number))
        record = run.done.get(number) or {}
        if note is not None and record.get("status") == STATUS_OK and number in run.planner.scope:
            question = run.planner.make_question(cells)
            rejected.append((Row(number, cells, question, record.get("key"), record.get("pending")), record, note))
    approved = sum(1 for n in run.planner.scope if (verdicts.get(n) or "").strip().startswith(APPROVED))
    log("按审核重问:驳回 %d 行(在原会话里带着意见再问),通过 %d 行,其余 %d 行没有审核意见,都不再问" % (
        len(rejected), approved, len(run.planner.scope) - len(rejected) - approved))
    run.planned = len(todo) + len(rejected)
    with ThreadPoolExecutor(max_workers=run.options.concurrency) as pool:
        asked = list(pool.map(lambda item: ask_rejected(run, *item), rejected if not run.stop.is_set() else []))
    rounds = dict((item[0].number, (run.done.get(item[0].number) or {}).get("review_round", 0)) for item in rejected)
    text = "本次按审核意见重问 %d 行,成功 %d 行,失败 %d 行(失败的保留原回答);通过 %d 行。各行轮数:%s" % (
        len(rejected), sum(asked), len(asked) - sum(asked), approved,
        "、".join("第 %d 行第 %d 轮" % item for item in sorted(rounds.items())) or "无")
    run.report_sections = [("审核", text)]
    run.close()
    summary = summarize(run, taken, skipped, blank, started)
    summary["review"] = {"rejected": len(rejected), "asked": sum(asked), "failed": len(asked) - sum(asked),
                         "approved": approved, "rounds": rounds}
    log(text)
    return summary
