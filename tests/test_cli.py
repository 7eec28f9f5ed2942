"""The command line: the zero-setup demo, --json, and `serve`."""
import json
import signal
import subprocess
import sys
import urllib.request

from helpers import ROOT, run_cli


def test_ask_without_token_is_the_offline_demo():
    out = run_cli("ask", "你好")
    assert out.returncode == 0, out.stderr
    assert "你好" in out.stdout
    assert "离线演示" in out.stderr and "模拟器" in out.stderr  # says clearly it is not a real bot


def test_ask_json_prints_the_chat_dict():
    out = run_cli("ask", "给我 JSON", "--json", "--no-stream")
    result = json.loads(out.stdout)
    assert "给我 JSON" in result["answer"] and result["usage"]["token_count"] > 0
    assert set(result) >= {"answer", "conversation_id", "chat_id", "usage", "follow_ups", "reasoning", "logid", "elapsed"}


def test_bad_input_exits_with_a_chinese_error_and_no_traceback():
    out = run_cli("ask", "你好", "--token", "pat_x", "--bot-id", "abc")
    assert out.returncode == 1
    assert "--bot-id 应该是一串数字" in out.stderr and "Traceback" not in out.stderr  # the flag, not the parameter


def test_serve_prints_its_url_first_and_stops_on_sigterm():
    proc = subprocess.Popen([sys.executable, "-m", "yingdao_module", "serve", "--port", "0", "--latency", "0.05"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url + "/_sim/stats", timeout=10) as resp:
            assert "chats_created" in json.loads(resp.read().decode("utf-8"))
        env = {"COZE_API_TOKEN": "pat_any", "COZE_BOT_ID": "7000000000000000001", "COZE_API_BASE": url}
        out = run_cli("ask", "真·命令行", env=env)
        assert "真·命令行" in out.stdout and "离线演示" not in out.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0


def test_ask_json_failure_prints_a_json_error_with_code_and_logid():
    from yingdao_module.simulator import Simulator
    with Simulator(latency=0.05, token="pat_theRIGHTtoken1") as strict:
        env = {"COZE_API_TOKEN": "pat_theWRONGtoken2", "COZE_BOT_ID": "7000000000000000001", "COZE_API_BASE": strict.url}
        out = run_cli("ask", "你好", "--json", env=env)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    failure = json.loads(out.stdout)
    assert failure["code"] == 4100 and failure["logid"] and failure["type"] == "AuthError"
    assert "令牌" in failure["error"] and "pat_theWRONG" not in out.stdout + out.stderr


def test_ask_json_input_error_is_json_too():
    out = run_cli("ask", "  ", "--json")
    assert out.returncode == 1
    assert "问题" in json.loads(out.stdout)["error"]


def test_input_is_checked_before_the_offline_demo_notice():
    for args in (["ask", ""], ["ask", "你好", "--bot-id", "abc"], ["ask", "你好", "--timeout", "-1"]):
        out = run_cli(*args)
        assert out.returncode == 1 and "离线演示" not in out.stderr, (args, out.stderr)
        assert out.stderr.startswith("错误:"), out.stderr


def test_batch_input_is_checked_before_the_offline_demo_notice(tmp_path):
    table = tmp_path / "商品.csv"
    table.write_text("商品名\n杯子\n", encoding="utf-8")
    for args in (["batch", str(tmp_path / "没有这个文件.csv"), "--prompt", "为{商品名}写广告"],
                 ["batch", str(table), "--prompt", "为{不存在}写广告"],
                 ["batch", str(table), "--prompt", "为{商品名}写广告", "--shard", "4/3"]):
        out = run_cli(*args)
        assert out.returncode == 1 and "离线演示" not in out.stderr, (args, out.stderr)
        assert out.stderr.startswith("错误:") and "Traceback" not in out.stderr, out.stderr
    out = run_cli("batch", str(table), "--prompt", "为{商品名}写广告")
    assert out.returncode == 0 and "离线演示" in out.stderr and json.loads(out.stdout)["done"] == 1


def chinese(text):
    return any("\u4e00" <= ch <= "\u9fff" for ch in text or "")


def test_help_of_the_top_level_and_ask_is_complete_and_chinese():
    import argparse
    from yingdao_module.cli import build_parser
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in [("", parser), ("ask", commands.choices["ask"])]:
        for action in sub._actions:
            assert chinese(action.help), (name, action.option_strings or action.dest)
        text = run_cli(*([name] if name else []) + ["-h"]).stdout
        assert chinese(sub.description) and "用法:" in text
        for english in ("usage:", "show this help", "positional arguments", "options:", "optional arguments"):
            assert english not in text, (name, english)
    for choice in commands._choices_actions:
        assert chinese(choice.help), choice.dest


def test_usage_errors_are_chinese_and_hide_tokens():
    out = run_cli("ask", "你好", "--timeout", "abc")
    assert out.returncode == 2 and "--timeout" in out.stderr and "无效" in out.stderr and "error:" not in out.stderr
    out = run_cli("ask")
    assert "缺少参数" in out.stderr
    out = run_cli("ask", "你好", "--tokn", "pat_secretVALUE12345")
    assert "不认识的参数" in out.stderr and "pat_secretVALUE12345" not in out.stderr


def test_cli_errors_name_flags_not_python_parameters(sim, tmp_path):
    table = tmp_path / "商品.csv"
    table.write_text("商品名\n杯子\n", encoding="utf-8")
    env = {"COZE_API_TOKEN": "pat_any", "COZE_BOT_ID": "7000000000000000001", "COZE_API_BASE": sim.url}
    assert run_cli("batch", str(table), "--prompt", "为{商品名}写广告", env=env).returncode == 0
    out = run_cli("batch", str(table), "--prompt", "为{商品名}写一句诗", env=env)  # another prompt, same output
    assert out.returncode == 1 and "断点日志属于另一次批处理" in out.stderr
    assert "--output" in out.stderr and "--restart" in out.stderr and "(命令行 --restart)" not in out.stderr
    assert "output_path" not in out.stderr and "restart=True" not in out.stderr
    out = run_cli("batch", str(table), "--prompt", "为{商品名}写广告", "--question-column", "商品名", env=env)
    assert out.returncode == 2  # argparse: only one of them
    out = run_cli("ask", "你好", "--timeout", "0", env=env)
    assert out.returncode == 1 and out.stderr.startswith("错误:--timeout 应该是") and "Traceback" not in out.stderr
