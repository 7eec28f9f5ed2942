"""The command line: the zero-setup demo, --json, and `serve`."""
import json
import os
import signal
import subprocess
import sys
import urllib.request

from conftest import ROOT


def run_cli(*args, env=None, timeout=60):
    clean = dict(os.environ)
    for name in ("COZE_API_TOKEN", "COZE_BOT_ID", "COZE_API_BASE", "COZE_HTTP_BACKEND"):
        clean.pop(name, None)
    clean.update(env or {})
    return subprocess.run([sys.executable, "-m", "yingdao_module"] + list(args), cwd=ROOT, env=clean,
                          capture_output=True, text=True, timeout=timeout)


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
    assert "bot_id 应该是一串数字" in out.stderr and "Traceback" not in out.stderr


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
