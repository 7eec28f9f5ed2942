"""excel_batch: one 调用模块 call to coze.batch processes a whole workbook, then logs the summary."""
from .blocks import Template, end_if, expr, if_, invoke, log, text, var


def build():
    t = Template("excel_batch", "Excel 整表批处理",
                 "一个「调用模块」调用 coze.batch 处理整张表:并发、限速、断点续跑,每得到一个回答就落盘,"
                 "崩溃或关机不丢已完成的行,重跑同一个流程会跳过已完成的行;结束后把汇总打印到日志。")
    t.param_in("excel_path", "str", "C:\\影刀数据\\商品.xlsx", "要处理的表格(xlsx 或 csv,第 1 行是表头)")
    t.param_in("prompt", "str", "请为商品「{商品名}」写一句 30 字以内的广告语,卖点:{卖点}",
               "提问模板:{列名} 会换成这一行该列的内容")
    t.param_out("summary", "dict", "{}", "汇总:total、done、skipped、failed、tokens、elapsed、output_path、stopped_reason",
                kind="Expression")
    t.add(
        invoke("batch", [("input_path", var("excel_path")), ("prompt", var("prompt")),
                         ("answer_column", text("回答")), ("concurrency", text("2"))], "summary",
               note="回答写进「回答」列;同时最多 2 个请求;其余参数见 docs/reference.md"),
        log(expr('"批处理结束:共 %s 行,完成 %s 行,跳过 %s 行,失败 %s 行,用时 %s 秒,结果:%s" % ('
                 'summary["total"], summary["done"], summary["skipped"], summary["failed"], '
                 'summary["elapsed"], summary["output_path"])')),
        if_(expr('summary["failed"]'), ">", expr("0"), note="有失败的行"),
        log(expr('"有 %s 行失败(原因见结果表),修好后在调用模块里加参数 retry_failed = true 再运行一次" % summary["failed"]'),
            level="warning"),
        end_if(),
    )
    return t
