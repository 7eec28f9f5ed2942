"""workflow_batch: one 调用模块 call to coze.batch runs a Coze workflow once per row of a workbook."""
from .blocks import Template, end_if, expr, if_, invoke, log, text, var


def build():
    t = Template("workflow_batch", "Excel 每行运行工作流",
                 "一个「调用模块」调用 coze.batch,表格每一行运行一次扣子工作流:参数来自同名的列,"
                 "结束节点输出的每个字段写成一列;已开始的运行绝不重跑,重跑同一个流程从断点继续;"
                 "回答里的图片和文件下载到输出旁边的文件夹。结束后把汇总打印到日志。")
    t.param_in("excel_path", "str", "C:\\影刀数据\\城市.xlsx", "要处理的表格(xlsx 或 csv):列名就是工作流的参数名")
    t.param_in("workflow_id", "str", "", "工作流 ID:工作流编辑页网址里 workflow= 后面的数字")
    t.param_out("summary", "dict", "{}", "汇总:total、done、skipped、failed、tokens、elapsed、output_path、stopped_reason",
                kind="Expression")
    t.add(
        invoke("batch", [("input_path", var("excel_path")), ("workflow_id", var("workflow_id")),
                         ("concurrency", text("2")), ("download", text("是"))], "summary",
               note="每行一次工作流运行;输出字段一列一个;链接的图片和文件下载到「<输出名>_文件」;"
                    "参数改名或常量加 parameters,问答节点的回答列加 answers_column,每行的文件列加 files_column"),
        log(expr('"工作流批处理结束:共 %s 行,完成 %s 行,跳过 %s 行,失败 %s 行,用时 %s 秒,结果:%s" % ('
                 'summary["total"], summary["done"], summary["skipped"], summary["failed"], '
                 'summary["elapsed"], summary["output_path"])')),
        if_(expr('summary["failed"]'), ">", expr("0"), note="有失败的行"),
        log(expr('"有 %s 行失败(原因见结果表的「错误」列),处理好后在调用模块里加参数 retry_failed = 是 再运行一次;'
                 '已开始过的运行不会重跑" % summary["failed"]'), level="warning"),
        end_if(),
    )
    return t
