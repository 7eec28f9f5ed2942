"""The offline demo says so wherever its answers appear: the summary, the log, the HTML report
(a banner and the title), ask --json; a real run's report has no such banner."""
import json

from helpers import BOT_ID, TOKEN
from sheets import products, write_csv
from helpers import run_cli


def test_a_demo_batch_says_so_in_summary_log_and_report(tmp_path):
    source = write_csv(tmp_path / "in.csv", products(2))
    out = run_cli("batch", source, "--question-column", "商品名")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["done"] == 2 and "离线演示" in summary["demo"] and "不是真实智能体" in summary["demo"]
    assert "【离线演示】批处理结束" in out.stderr
    with open(summary["report_path"], encoding="utf-8") as handle:
        page = handle.read()
    assert '<p class="demo"><b>【离线演示】</b>' in page and "<title>【离线演示】批处理报告" in page
    banner = page.split('<p class="demo">', 1)[1].split("</p>", 1)[0]
    assert banner.count("离线演示") == 1 and "不是真实智能体" in banner  # said once, not 【离线演示】离线演示:


def test_a_demo_ask_json_says_so(tmp_path):
    out = run_cli("ask", "你好", "--json")
    assert out.returncode == 0 and "离线演示" in json.loads(out.stdout)["demo"]


def test_a_real_batch_has_no_demo_banner(coze, sim, tmp_path, quiet_log):
    source = write_csv(tmp_path / "in.csv", products(1))
    summary = coze.batch(source, question_column="商品名", bot_id=BOT_ID, token=TOKEN, base_url=sim.url)
    assert "demo" not in summary and not any("离线演示" in line for line in quiet_log)
    with open(summary["report_path"], encoding="utf-8") as handle:
        assert "离线演示" not in handle.read()
