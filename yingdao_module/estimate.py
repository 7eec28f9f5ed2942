"""The estimate (batch estimate=True): what a whole table will cost before it runs overnight.

A few sample rows, spread over the rows still to ask, are asked one by one (each row's own
time is measured) and journaled like any row, so the real run never pays for them again.
The projection for the rest: tokens (mean per row x rows left), chats (repairs included),
and the time at the caps in force (the limiter's rate, this robot's share with a shard) or
at the measured speed with `concurrency` rows in flight, whichever is slower; qpd in days.
"""
import math
import time

from .batch_output import summarize
from .batch_plan import STATUS_OK
from .log import log


def sample_rows(todo, count):
    """`count` rows spread evenly from the first to the last (all of them when fewer)."""
    if len(todo) <= count:
        return list(todo)
    if count == 1:
        return [todo[len(todo) // 2]]
    step = (len(todo) - 1) / float(count - 1)
    return [todo[int(round(i * step))] for i in range(count)]


def projection(records, seconds, chats, rows_left, concurrency, calls_per_second, qpd):
    """The figures for rows_left more rows from what the samples cost (a dict; None values unknown)."""
    answered = [r for r in records if r.get("status") == STATUS_OK and not r.get("cached")]
    asked = max(1, len(records))
    tokens_per_row = sum(r.get("tokens") or 0 for r in answered) / float(len(answered)) if answered else None
    chats_per_row = chats / float(asked) if chats else 1.0
    row_seconds = sum(seconds) / float(len(seconds)) if seconds else None
    rates = []  # rows per second each limit allows
    if row_seconds:
        rates.append(concurrency / row_seconds)
    if calls_per_second:
        rates.append(calls_per_second / chats_per_row)
    total_chats = int(math.ceil(chats_per_row * rows_left))
    return {"rows_left": rows_left, "samples": len(records),
            "tokens": int(round(tokens_per_row * rows_left)) if tokens_per_row is not None else None,
            "tokens_per_row": round(tokens_per_row, 1) if tokens_per_row is not None else None,
            "chats": total_chats, "seconds": round(rows_left / min(rates), 1) if rates and rows_left else 0.0,
            "days": int(math.ceil(total_chats / float(qpd))) if qpd else None,
            "rows_per_second": round(min(rates), 3) if rates else None}


def estimate_text(figures, resume):
    """The projection in Chinese, for the log, the summary and the report."""
    if figures["tokens"] is None:
        return "估算失败:试问的 %d 行没有一行成功(原因见上),无法估算。处理好后再估算一次" % figures["samples"]
    hours = figures["seconds"] / 3600.0
    lines = ["估算(试问 %d 行,已记进日志,正式运行不会再付费):剩下 %d 行预计用 %d tokens(平均每行 %s),"
             "发起 %d 次对话,按现在的限速和并发约 %s(%.1f 小时)" % (
                 figures["samples"], figures["rows_left"], figures["tokens"], figures["tokens_per_row"],
                 figures["chats"], "%d 分钟" % int(math.ceil(figures["seconds"] / 60.0)), hours)]
    if figures["days"] and figures["days"] > 1:
        lines.append("按每天 qpd 的上限,要分 %d 天跑完(每天续跑同一命令)" % figures["days"])
    lines.append("正式运行:" + (resume or "再次运行同一命令,去掉 --estimate(影刀里 estimate 填 否)"))
    return "\n".join(lines)


def run_estimate(run, todo, taken, skipped, blank, started):
    """Ask the samples of `run` (a BatchRun), save, and return the summary with the projection."""
    samples = sample_rows(todo, run.options.estimate)
    log("估算:本次要问 %d 行,均匀挑 %d 行试问(其余不问,不花钱)" % (len(todo), len(samples)))
    records, seconds = [], []
    for row in samples:  # one at a time: each row's own time
        began = time.monotonic()
        record = run.asker.ask_row(row)
        if record is None:
            break  # the run stopped (token, quota...): said above
        records.append(record)
        if not record.get("cached"):
            seconds.append(time.monotonic() - began)
    limiter = getattr(run, "limiter", None)
    figures = projection(records, seconds, run.asker.chats, len(todo) - len(records), run.options.concurrency,
                         limiter.calls_per_second if limiter is not None else None,
                         limiter.qpd if limiter is not None else None)
    run.planned = len(samples)
    text = estimate_text(figures, "")
    run.report_sections = [("估算", text)]
    run.close()
    summary = summarize(run, taken, skipped, blank, started)
    figures["text"] = estimate_text(figures, summary["resume_command"])
    summary["estimate"] = figures
    log(figures["text"])
    return summary
