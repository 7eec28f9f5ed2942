"""The bad-input catalogue: what a user gets wrong, and the Chinese message they see.

Each case is (entry point, what the user did, a function that makes the call given the
module and a work folder, a phrase the message must contain). tests/test_bad_input.py
asserts every case; tests/benchmarks/run.py lists them with their messages in
docs/reliability.md.
"""
import os

from helpers import BOT_ID as BOT, TOKEN


def _question(function, **changes):
    def call(coze, folder, url):
        kw = dict(question="你好", bot_id=BOT, token=TOKEN, base_url=url)
        kw.update(changes)
        return getattr(coze, function)(**kw)
    return call


def _ask(**changes):
    return _question("ask", **changes)


def _chat(**changes):
    return _question("chat", **changes)


def _workflow(workflow_id="7400000000000000001", **changes):
    def call(coze, folder, url):
        kw = dict(token=TOKEN, base_url=url)
        kw.update(changes)
        return coze.run_workflow(workflow_id, **kw)
    return call


def _main(**args):
    def call(coze, folder, url):
        full = dict(question="你好", bot_id=BOT, token=TOKEN, base_url=url)
        full.update(args)
        coze.main(full)
        if full["error"]:
            raise coze.InputError(full["error"])  # main() reports instead of raising
        return full["answer"]
    return call


def write(folder, name, text, encoding="utf-8"):
    path = os.path.join(folder, name)
    with open(path, "w", encoding=encoding, newline="") as handle:
        handle.write(text)
    return path


def _batch(make_input, **changes):
    def call(coze, folder, url):
        kw = dict(bot_id=BOT, token=TOKEN, base_url=url)
        kw.update(changes)
        return coze.batch(make_input(folder), **kw)
    return call


def _csv(text, encoding="utf-8"):
    return lambda folder: write(folder, "表.csv", text, encoding)


def _empty_xlsx(folder):
    import openpyxl
    path = os.path.join(folder, "空表.xlsx")
    openpyxl.Workbook().save(path)
    return path


CASES = [
    ("ask", "问题为空", _ask(question=""), "问题(question)是空的"),
    ("ask", "问题为 None", _ask(question=None), "问题(question)是空的"),
    ("ask", "问题只有空白", _ask(question="  \n "), "问题(question)是空的"),
    ("ask", "问题不是文本(列表)", _ask(question=["苹果"]), "应该是文本"),
    ("ask", "令牌只有空白", _ask(token="   "), "缺少扣子令牌"),
    ("ask", "令牌只粘了 Bearer", _ask(token="Bearer "), "令牌(token)是空的"),
    ("ask", "令牌里混进中文", _ask(token="pat_令牌abc"), "非 ASCII"),
    ("ask", "bot_id 有字母", _ask(bot_id="bot_abc"), "bot_id 应该是一串数字"),
    ("ask", "bot_id 被 Excel 变成小数", _ask(bot_id=7.000000000000001e18), "丢失精度"),
    ("ask", "timeout 为负数", _ask(timeout=-1), "大于 0"),
    ("ask", "timeout 是文字", _ask(timeout="三分钟"), "timeout 应该是秒数"),
    ("ask", "base_url 拼错主机", _ask(base_url="https://api.coze.cm"), "不是扣子的地址"),
    ("ask", "base_url 填成网站首页", _ask(base_url="https://www.coze.cn"), "API 地址是 https://api.coze.cn"),
    ("ask", "stream 填了无法识别的值", _ask(stream="也许"), "True 或 False"),
    ("ask", "文件不存在", _ask(files=["C:/不存在/发票.png"]), "找不到文件"),
    ("ask", "私钥只粘了一半", _ask(app_id="1155", key_id="kid1",
                                  private_key="-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n"),
     "私钥(private_key)"),
    ("ask", "私钥填成了公钥", _ask(app_id="1155", key_id="kid1",
                                  private_key="-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkq\n-----END PUBLIC KEY-----"),
     "填成了公钥或证书"),
    ("ask", "私钥文件路径不存在", _ask(app_id="1155", key_id="kid1", private_key="C:/不存在/private_key.pem"),
     "读不到私钥文件"),
    ("main(args)", "服务类应用缺公钥指纹", _main(token="", app_id="1155", private_key="C:/keys/private_key.pem"),
     "还缺 key_id"),
    ("chat", "自定义变量的值是字典", _chat(custom_variables={"城市": {"名": "杭州"}}), "键和值都必须是文本"),
    ("chat", "自定义变量的值是 None", _chat(custom_variables={"城市": None}), "键和值都必须是文本"),
    ("chat", "自定义变量不是 JSON", _chat(custom_variables="城市=杭州"), "JSON"),
    ("run_workflow", "workflow_id 为空", _workflow(""), "缺少工作流 ID"),
    ("run_workflow", "workflow_id 不是数字", _workflow("我的工作流"), "workflow_id 应该是一串数字"),
    ("run_workflow", "parameters 不是合法 JSON", _workflow(parameters="{input: 你好"), "parameters 应该是字典或 JSON"),
    ("main(args)", "Code 流程没给问题", _main(question=""), "问题(question)是空的"),
    ("main(args)", "Code 流程的 timeout 是文字", _main(timeout="很久"), "timeout 应该是秒数"),
    ("main(args)", "Code 流程的 bot_id 有字母", _main(bot_id="abc"), "bot_id 应该是一串数字"),
    ("batch", "模板引用了不存在的列", _batch(_csv("商品名,价格\n杯子,9\n"), prompt="介绍{商品}"), "表格的列有:商品名、价格"),
    ("batch", "GBK 编码的 CSV 里列名写错", _batch(_csv("商品名,价格\n杯子,9\n", "gbk"), question_column="名称"),
     "表格的列有:商品名、价格"),
    ("batch", "问题列不存在", _batch(_csv("标题\n杯子\n"), question_column="问题"), "没有「问题」这一列"),
    ("batch", "同时填了模板和问题列", _batch(_csv("标题\n杯子\n"), prompt="{标题}", question_column="标题"), "只能填一个"),
    ("batch", "多列却没说用哪列提问", _batch(_csv("甲,乙\n1,2\n")), "请用 prompt 写提问模板"),
    ("batch", "列名重复", _batch(_csv("问题,问题\na,b\n")), "重复的列名"),
    ("batch", "空表格(CSV)", _batch(_csv("")), "表格是空的"),
    ("batch", "空工作簿(xlsx)", _batch(_empty_xlsx), "表格是空的"),
    ("batch", "表格文件不存在", _batch(lambda folder: os.path.join(folder, "表_不存在.xlsx")), "找不到表格文件"),
    ("batch", "不支持的文件类型", _batch(lambda folder: write(folder, "表.docx", "x")), "只支持 .xlsx 和 .csv"),
    ("batch", "分片写成 0/3", _batch(_csv("问题\na\n"), shard="0/3"), "例如 1/3"),
    ("batch", "分片写成 4/3", _batch(_csv("问题\na\n"), shard="4/3"), "例如 1/3"),
    ("batch", "并发数不是数字", _batch(_csv("问题\na\n"), concurrency="两个"), "concurrency 应该是整数"),
    ("batch", "回答列名和已有列重名", _batch(_csv("问题,回答\na,b\n"), question_column="问题"), "已经有「回答」列"),
    ("batch", "qps 写成了文字", _batch(_csv("问题\na\n"), qps="很快"), "或者填 auto"),
    ("batch", "只填了 cache_days 没开缓存", _batch(_csv("问题\na\n"), cache_days=7), "请同时加 cache=True"),
    ("batch", "估算和审核一起用", _batch(_csv("问题\na\n"), estimate=True, review=True), "不能同时用"),
    ("batch", "估算的行数不是数字", _batch(_csv("问题\na\n"), estimate="几行"), "estimate 应该是整数"),
    ("batch", "工作流的行要审核", _batch(_csv("城市\na\n"), workflow_id="7400000000000000001", review=True),
     "工作流的行没有会话"),
]
