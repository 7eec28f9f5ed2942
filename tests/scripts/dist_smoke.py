"""Run dist/coze.py under another Python (3.7 ... 3.13, no requests installed) against a
simulator URL; prints one JSON line with what it got. Used by tests/test_dist.py."""
import importlib.util
import json
import sys

dist_path, base_url = sys.argv[1], sys.argv[2]
spec = importlib.util.spec_from_file_location("coze", dist_path)
coze = importlib.util.module_from_spec(spec)
spec.loader.exec_module(coze)
coze._set_log_sink(lambda line: None)  # build.py makes internal names private

common = dict(bot_id="7000000000000000001", token="pat_smoke", base_url=base_url)
streamed = coze.chat("三点七能跑吗", **common)
polled = coze.ask("轮询也行吗", stream="false", timeout="30", **common)
args = {"question": "Code 流程", "token": "pat_smoke", "bot_id": "7000000000000000001", "base_url": base_url}
main_answer = coze.main(args)
try:
    coze.ask("", **common)
    refused = ""
except coze.InputError as err:
    refused = str(err)
print(json.dumps({
    "python": "%d.%d" % sys.version_info[:2],
    "backend": coze._choose_backend().name,
    "streamed": streamed["answer"], "usage": streamed["usage"], "polled": polled,
    "main": main_answer, "main_error": args["error"], "refused": refused,
}, ensure_ascii=False))
