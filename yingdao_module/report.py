"""The batch report: one self-contained HTML page in Chinese (no scripts, fonts, images or
links to fetch) that a user can open offline or mail to a manager: totals, tokens, time and
rate, a progress chart drawn as inline SVG, failures grouped by reason with what to do about
each, and the command that continues the run.

`write_report(path, facts)` takes plain facts from the batch (see `render_report`).
"""
import os
import re

REPORT_CHART_POINTS = 300  # the chart keeps at most this many points, however long the run
_REPORT_FIXES = (  # (words in the reason, what to do); the first match wins
    ("JSON", "在提问模板里写明「只输出 JSON 对象」并列出键名;改好后加 --retry-failed 重跑这些行"),
    ("超时", "把 timeout 调大,或让智能体回答短一些;然后加 --retry-failed 重跑这些行"),
    ("限流", "把 qps / concurrency 调小,然后加 --retry-failed 重跑这些行"),
    ("繁忙", "稍后加 --retry-failed 重跑这些行"),
    ("网络", "检查网络或代理,然后加 --retry-failed 重跑这些行"),
    ("是空的", "在表格里补上这些列,重跑同一命令就会问这些行;确实要问空行就加 --ask-blank"),
    ("问题为空", "在表格里补上问题,重跑同一命令即可"),
)
_REPORT_IDS = re.compile(r"[((][^))]*(?:logid|chat_id|错误码)[^))]*[))]")
_REPORT_CSS = """
body{margin:0;background:#f4f5f7;color:#1f2329;font:15px/1.6 "Microsoft YaHei","PingFang SC","Noto Sans CJK SC",
"WenQuanYi Zen Hei","Source Han Sans SC",sans-serif}
main{max-width:1000px;margin:0 auto;padding:28px 24px 40px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 10px}
.sub{color:#646a73;margin:0 0 18px;word-break:break-all}
.demo{background:#fee2e2;border:2px solid #dc2626;color:#991b1b;padding:12px 16px;margin:0 0 18px;border-radius:6px;
font-size:17px}
.stop{background:#fff4e5;border-left:4px solid #f59e0b;padding:10px 14px;margin:0 0 18px;border-radius:4px}
.cards{display:flex;gap:12px;flex-wrap:wrap}
.card{flex:1;min-width:150px;background:#fff;border-radius:8px;padding:14px 16px;box-shadow:0 1px 2px rgba(0,0,0,.08)}
.card b{display:block;font-size:30px;line-height:1.2}.card span{color:#646a73}
.ok b{color:#16a34a}.failed b{color:#dc2626}.skipped b{color:#6b7280}.pending b{color:#d97706}
table{width:100%;border-collapse:collapse;background:#fff;border-radius:8px;overflow:hidden;
box-shadow:0 1px 2px rgba(0,0,0,.08)}
th,td{text-align:left;padding:8px 12px;border-bottom:1px solid #eef0f3;vertical-align:top}
th{background:#f8f9fb;font-weight:600;color:#4b5563;white-space:nowrap}
td.n{white-space:nowrap;text-align:right}td.rows{min-width:150px}
.figures td:first-child{color:#646a73;width:30%}
.chart{background:#fff;border-radius:8px;padding:8px 8px 0;box-shadow:0 1px 2px rgba(0,0,0,.08)}
pre{background:#1f2329;color:#e5e7eb;padding:12px 14px;border-radius:8px;white-space:pre-wrap;word-break:break-all;
font:14px/1.5 Consolas,"DejaVu Sans Mono",monospace}
.none{color:#646a73}code{white-space:nowrap;font-family:Consolas,"DejaVu Sans Mono",monospace;font-size:13px}
"""


def _report_seconds(seconds):
    if 0 < (seconds or 0) < 10 and round(seconds, 1) != round(seconds):  # a short run's axis: 0.4 秒, not 0 秒
        return "%.1f 秒" % seconds
    seconds = int(round(seconds or 0))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return "%d 小时 %d 分" % (hours, minutes)
    return "%d 分 %d 秒" % (minutes, seconds) if minutes else "%d 秒" % seconds


def _report_rows(numbers, limit=12):
    shown = "、".join(str(n) for n in numbers[:limit])
    return shown + (" 等 %d 行" % len(numbers) if len(numbers) > limit else "")


def report_fix(reason):
    """What to do about rows that failed or were skipped for `reason`."""
    for words, fix in _REPORT_FIXES:
        if words in reason:
            return fix
    return "按左边的说明处理后,加 --retry-failed 重跑这些行"


def group_reasons(records):
    """[(reason, [row numbers])] from {"row", "error"} records, the most frequent first."""
    groups = {}
    for record in records:
        reason = _REPORT_IDS.sub("", record.get("error") or "未知原因").strip()
        groups.setdefault(reason, []).append(record["row"])
    return sorted(groups.items(), key=lambda item: (-len(item[1]), min(item[1])))


def _report_step(top):
    """A round tick step (1, 2, 5 x 10^k) giving at most 5 ticks up to `top`."""
    step = 1
    while top / step > 5:
        for factor in (2, 2.5, 2):  # 1 -> 2 -> 5 -> 10 -> 20 ...
            step = int(step * factor)
            if top / step <= 5:
                break
    return step


def _report_chart(timeline, planned):
    """Inline SVG: rows finished (and failed) over the run's time."""
    width, height, left, right, top, bottom = 960, 290, 56, 20, 44, 40
    if len(timeline) > REPORT_CHART_POINTS:
        step = len(timeline) / float(REPORT_CHART_POINTS)
        timeline = [timeline[int(i * step)] for i in range(REPORT_CHART_POINTS)] + [timeline[-1]]
    points = [(0.0, 0, 0)] + [tuple(point) for point in timeline]
    span = max(points[-1][0], 1.0)
    top_count = max(planned, max(p[1] for p in points), 1)
    step = _report_step(top_count)
    peak = step * -(-top_count // step)  # the axis ends on a round number

    def x(seconds):
        return left + (width - left - right) * seconds / span

    def y(count):
        return top + (height - top - bottom) * (1 - count / float(peak))

    def line(index):
        return " ".join("%.1f,%.1f" % (x(p[0]), y(p[index])) for p in points)

    parts = ['<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="100%%" role="img" '
             'aria-label="进度随时间变化">' % (width, height)]
    for count in range(0, peak + 1, step):
        parts.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#eef0f3"/>'
                     % (left, width - right, y(count), y(count)))
        parts.append('<text x="%d" y="%.1f" font-size="12" fill="#646a73" text-anchor="end">%d</text>'
                     % (left - 8, y(count) + 4, count))
    for share, anchor in ((0, "start"), (0.25, "middle"), (0.5, "middle"), (0.75, "middle"), (1, "end")):
        parts.append('<text x="%.1f" y="%d" font-size="12" fill="#646a73" text-anchor="%s">%s</text>'
                     % (x(span * share), height - bottom + 18, anchor, _report_seconds(span * share)))
    if planned:
        parts.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#9ca3af" stroke-dasharray="5 4"/>'
                     '<text x="%d" y="%.1f" font-size="12" fill="#6b7280" text-anchor="end">计划 %d 行</text>'
                     % (left, width - right, y(planned), y(planned), width - right, y(planned) - 6, planned))
    parts.append('<polyline fill="none" stroke="#2563eb" stroke-width="2.5" points="%s"/>' % line(1))
    if any(p[2] for p in points):
        parts.append('<polyline fill="none" stroke="#dc2626" stroke-width="2" points="%s"/>' % line(2))
    parts.append('<g font-size="13"><rect x="%d" y="%d" width="12" height="4" fill="#2563eb"/>'
                 '<text x="%d" y="%d" fill="#1f2329">已处理</text>'
                 '<rect x="%d" y="%d" width="12" height="4" fill="#dc2626"/>'
                 '<text x="%d" y="%d" fill="#1f2329">其中失败</text></g>'
                 % (left, 12, left + 18, 18, left + 80, 12, left + 98, 18))
    parts.append('<text x="%d" y="%d" font-size="12" fill="#646a73" text-anchor="middle">用时</text>'
                 % ((width + left) // 2, height - 4))
    parts.append("</svg>")
    return "".join(parts)


def _report_groups(groups, title, empty):
    import html  # on first use: importing the module stays fast
    if not groups:
        return '<h2>%s</h2><p class="none">%s</p>' % (title, empty)
    rows = "".join('<tr><td>%s</td><td class="n">%d</td><td class="rows">%s</td><td>%s</td></tr>'
                   % (html.escape(reason), len(numbers), html.escape(_report_rows(numbers)),
                      re.sub(r"(--[a-z-]+)", r"<code>\1</code>", html.escape(report_fix(reason))))
                   for reason, numbers in groups)
    return ('<h2>%s</h2><table><tr><th>原因</th><th>行数</th><th>表格行号</th><th>怎么办</th></tr>%s</table>'
            % (title, rows))


def render_report(facts):
    """The page for `facts`: title, input, output, sheet, started, elapsed (s), ok, failed,
    skipped, pending, planned (rows this run), finished (rows this run), tokens (of answered rows),
    all_tokens (failed rows cost too), chats,
    timeline [(seconds, finished, failed)], failures and skips [{"row", "error"}],
    stopped_reason, resume (a command), asked_again (chats failed on Coze's side asked again),
    demo (text: the answers came from the offline demo, said in a banner and the title),
    sections [(title, text)]: the estimate, review rounds."""
    import html  # on first use: importing the module stays fast
    esc = html.escape
    counts = [("ok", "成功", facts.get("ok", 0)), ("failed", "失败", facts.get("failed", 0)),
              ("skipped", "跳过", facts.get("skipped", 0)), ("pending", "未完成", facts.get("pending", 0))]
    cards = "".join('<div class="card %s"><b>%d</b><span>%s</span></div>' % (kind, count, name)
                    for kind, name, count in counts)
    elapsed = float(facts.get("elapsed") or 0)
    finished = facts.get("finished", 0)
    answered = facts.get("ok", 0)
    tokens, all_tokens = facts.get("tokens", 0), facts.get("all_tokens", facts.get("tokens", 0))
    figures = [
        ("开始时间", facts.get("started", "")),
        ("本次用时", _report_seconds(elapsed)),
        ("本次处理", "%d 行,平均 %.2f 行/秒(%.1f 行/分钟)" % (finished, finished / max(elapsed, 0.001),
                                                         60 * finished / max(elapsed, 0.001))),
        ("tokens", "共 %d(成功的行 %d,平均每行 %d)" % (all_tokens, tokens, tokens // answered if answered else 0)),
        ("本次发起的对话(计费次数)", "%d" % facts.get("chats", 0) + (
            "(其中 %d 次是重问扣子那边失败的对话)" % facts["asked_again"] if facts.get("asked_again") else "")),
        ("输入表格", facts.get("input", "") + ("(工作表「%s」)" % facts["sheet"] if facts.get("sheet") else "")),
        ("输出表格", facts.get("output", "")),
    ]
    table = "".join("<tr><td>%s</td><td>%s</td></tr>" % (esc(name), esc(str(value))) for name, value in figures)
    stop = ""
    if facts.get("demo"):  # a report made offline must never pass for real answers
        stop = '<p class="demo"><b>【离线演示】</b>%s。</p>' % esc(facts["demo"].replace("离线演示:", "", 1))
    if facts.get("stopped_reason"):
        stop += '<p class="stop"><b>提前停止:</b>%s</p>' % esc(facts["stopped_reason"])
    if facts.get("pending") or facts.get("failed"):
        resume = ("<h2>继续</h2><p>还有未完成或失败的行。处理好上面的原因后:</p>"
                  "<pre>%s</pre>" % esc(facts.get("resume", "")))
    else:
        resume = "<h2>继续</h2><p class=\"none\">全部完成,没有需要继续的行。</p>"
    return "".join([
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>%s批处理报告 - %s</title><style>%s</style></head><body><main>" % (
            "【离线演示】" if facts.get("demo") else "", esc(facts.get("title", "")), _REPORT_CSS),
        "<h1>%s批处理报告:%s</h1>" % ("【离线演示】" if facts.get("demo") else "", esc(facts.get("title", ""))),
        '<p class="sub">%s 生成</p>' % esc(facts.get("generated", "")),
        stop,
        "".join("<h2>%s</h2><pre>%s</pre>" % (esc(title), esc(text)) for title, text in facts.get("sections") or []),
        '<div class="cards">%s</div>' % cards,
        '<h2>用量与速度</h2><table class="figures">%s</table>' % table,
        '<h2>进度</h2><div class="chart">%s</div>' % _report_chart(facts.get("timeline") or [], facts.get("planned", 0)),
        _report_groups(group_reasons(facts.get("failures") or []), "失败的行", "没有失败的行。"),
        _report_groups(group_reasons(facts.get("skips") or []), "跳过的行", "没有跳过的行。"),
        resume,
        "</main></body></html>",
    ])


def write_report(path, facts):
    """Write the page atomically (a half-written report never replaces a good one); returns the path."""
    temporary = path + ".tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(render_report(facts))
    os.replace(temporary, path)
    return path
