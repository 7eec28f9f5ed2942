"""The batch report page: self-contained (nothing fetched), Chinese, with totals, figures,
a progress chart, failures grouped with a fix each, and the resume command. The content is
checked by parsing the HTML; where Chromium is installed the page is also rendered."""
import os
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser

import pytest


class Page(HTMLParser):
    """Texts, tags and attributes of a page, plus anything that would be fetched."""

    def __init__(self, text):
        HTMLParser.__init__(self)
        self.tags, self.texts, self.fetches, self.rows = [], [], [], []
        self._row = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "srcset", "poster", "data") or (value or "").strip().startswith("url("):
                self.fetches.append((tag, name, value))
        if tag in ("script", "link", "img", "iframe", "object", "embed"):
            self.fetches.append((tag, "", ""))
        if tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._row.append("")

    def handle_endtag(self, tag):
        if tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        self.texts.append(data)
        if self._row:
            self._row[-1] += data

    @property
    def text(self):
        return "".join(self.texts)


def facts(**overrides):
    timeline = [(i * 1.5, i * 2, i // 20) for i in range(1, 61)]
    base = dict(title="商品.xlsx", input="/数据/商品.xlsx", output="/数据/商品_coze.xlsx", sheet="商品",
                started="2026-11-25 09:50:12", generated="2026-11-25 09:51:42", elapsed=90.0,
                ok=114, failed=3, skipped=2, pending=1, planned=120, finished=117, tokens=28500, all_tokens=29100,
                chats=118,
                timeline=timeline,
                failures=[{"row": 7, "error": "回答不是合法的 JSON(修复提问后仍然不是):缺少键 卖点"},
                          {"row": 30, "error": "回答不是合法的 JSON(修复提问后仍然不是):缺少键 卖点"},
                          {"row": 41, "error": "等待扣子回答超时(超过 timeout 设定的秒数),已取消这次对话"}],
                skips=[{"row": 12, "error": "这些列是空的:商品名"}, {"row": 13, "error": "这些列是空的:商品名"}],
                stopped_reason="", resume='python -m yingdao_module batch 商品.xlsx --prompt "为{商品名}写广告"')
    base.update(overrides)
    return base


def test_report_content(coze):
    page = Page(coze.render_report(facts()))
    assert page.fetches == []  # nothing to download: opens offline, mails as one file
    assert "svg" in page.tags and "polyline" in page.tags and "style" in page.tags
    text = page.text
    for phrase in ("批处理报告:商品.xlsx", "114成功", "3失败", "2跳过", "1未完成", "共 29100(成功的行 28500,平均每行 250)",
                   "1 分 30 秒", "117 行,平均 1.30 行/秒", "118", "/数据/商品_coze.xlsx", "工作表「商品」",
                   "计划 120 行", 'python -m yingdao_module batch 商品.xlsx --prompt "为{商品名}写广告"'):
        assert phrase in text, phrase
    groups = [row for row in page.rows if len(row) == 4 and row[0] != "原因"]
    assert groups[0][:3] == ["回答不是合法的 JSON(修复提问后仍然不是):缺少键 卖点", "2", "7、30"]
    assert "只输出 JSON 对象" in groups[0][3]
    assert groups[1][1:3] == ["1", "41"] and "timeout 调大" in groups[1][3]
    assert groups[2][:3] == ["这些列是空的:商品名", "2", "12、13"] and "--ask-blank" in groups[2][3]


def test_report_when_all_done_and_when_stopped(coze):
    page = Page(coze.render_report(facts(failed=0, pending=0, failures=[], skips=[])))
    assert "全部完成,没有需要继续的行" in page.text and "没有失败的行" in page.text and "python -m" not in page.text
    stopped = Page(coze.render_report(facts(stopped_reason="扣子额度已用完,充值后重跑同一命令即可从断点继续")))
    assert "提前停止:扣子额度已用完" in stopped.text
    escaped = coze.render_report(facts(title="<script>x</script>.xlsx"))
    assert "<script>" not in escaped and Page(escaped).fetches == []


def test_long_runs_keep_the_chart_small(coze):
    timeline = [(i * 0.5, i, 0) for i in range(1, 20001)]
    page = coze.render_report(facts(timeline=timeline, planned=20000, finished=20000))
    assert len(page) < 60000


def test_write_report_is_atomic(coze, tmp_path):
    path = str(tmp_path / "商品_报告.html")
    assert coze.write_report(path, facts()) == path
    assert os.listdir(str(tmp_path)) == ["商品_报告.html"]
    with open(path, encoding="utf-8") as handle:
        assert handle.read().startswith('<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">')


@pytest.mark.skipif(not shutil.which("chromium"), reason="Chromium is not installed")
def test_report_renders_in_chromium(coze, tmp_path):
    page = str(tmp_path / "report.html")
    coze.write_report(page, facts())
    picture = str(tmp_path / "report.png")
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run",
                    "--user-data-dir=" + tempfile.mkdtemp(dir=str(tmp_path)), "--screenshot=" + picture,
                    "--window-size=1100,1600", page], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=90)
    with open(picture, "rb") as handle:
        png = handle.read()
    assert png.startswith(b"\x89PNG") and len(png) > 30000  # a drawn page, not a blank one


def test_the_resume_command_in_the_report_is_escaped_and_shown_exactly(coze, tmp_path):
    """A file name or prompt with markup becomes text in the page, never an element; the command
    shown is exactly the one printed in the log (HTML-unescaped back)."""
    source = tmp_path / "<img src=x onerror=alert(1)>.csv"
    source.write_text("商品名\n甲\n", encoding="utf-8")
    options = coze.BatchOptions(str(source), coze.batch_defaults(), prompt="</pre><script>alert('{商品名}')</script> & $(touch X)")
    resume = coze.resume_text(options, "7000000000000000001", "https://api.coze.cn", platform_name="linux")
    html = coze.render_report(facts(resume=resume))
    assert "<script>" not in html and "<img" not in html and Page(html).fetches == []
    shown = Page(html).text
    assert all(line in shown for line in resume.splitlines())


def test_a_short_run_shows_tenths_of_a_second(coze):
    """A run under 10 s: the axis and 本次用时 say 0.4 秒, not 0 秒 for every tick."""
    assert coze._report_seconds(0.44) == "0.4 秒" and coze._report_seconds(2.0) == "2 秒"
    assert coze._report_seconds(75) == "1 分 15 秒" and coze._report_seconds(0) == "0 秒"
