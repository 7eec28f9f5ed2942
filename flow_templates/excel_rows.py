"""excel_rows: the purely visual way - loop the rows of a workbook, ask per row, write back."""
from .blocks import (Template, catch, continue_, end_if, end_loop, end_try, excel_close,
                     excel_loop_rows, excel_open, excel_save, excel_write_cell, expr, if_, invoke,
                     log, set_variable, template_text, text, try_, var)


def build():
    t = Template("excel_rows", "Excel 逐行提问(纯可视化)",
                 "打开工作簿,从第 2 行起逐行循环:用 A 列(商品名)和 B 列(卖点)拼出问题,调用 coze.ask,"
                 "把回答、状态、错误写进 C、D、E 列,每行写完就保存;某行失败只记下错误、继续下一行;"
                 "D 列已是「成功」的行会跳过,所以中断后重跑会接着做。最后关闭工作簿。")
    t.param_in("excel_path", "str", "C:\\影刀数据\\商品.xlsx", "要处理的 Excel 文件(第 1 行是表头)")
    t.add(
        excel_open(var("excel_path"), note="运行前请先在 Excel / WPS 里关掉这个文件"),
        excel_loop_rows("excel_instance", 2, note="从第 2 行开始(跳过表头),-1 表示到最后一行"),
        if_(expr('loop_excel[3] if len(loop_excel) > 3 else ""'), "==", text("成功"),
            note="D 列(第 4 列,下标 3)已经是「成功」:上次做过了"),
        continue_(),
        end_if(),
        set_variable("question", expr('"请为商品「%s」写一句 30 字以内的广告语,卖点:%s" % (loop_excel[0], loop_excel[1])'),
                     note="loop_excel[0] 是 A 列,loop_excel[1] 是 B 列;按你的表改这句"),
        set_variable("answer", text("")),
        set_variable("status", text("成功")),
        set_variable("error", text("")),
        try_(),
        invoke("ask", [("question", var("question")), ("timeout", text("180"))], "answer", retry=(2, 5),
               note="网络抖动时这一块自动重试;仍失败才进入 Catch"),
        catch("exception"),
        set_variable("status", text("失败")),
        set_variable("error", expr("str(exception)")),
        log(template_text(text("第 "), var("loop_item_rownum"), text(" 行失败:"), var("exception")), level="error"),
        end_try(),
        excel_write_cell("excel_instance", var("loop_item_rownum"), "C", var("answer"), note="回答写进 C 列"),
        excel_write_cell("excel_instance", var("loop_item_rownum"), "D", var("status"), note="状态写进 D 列"),
        excel_write_cell("excel_instance", var("loop_item_rownum"), "E", var("error"), note="错误写进 E 列"),
        excel_save("excel_instance", note="每行都保存:中途断电、关机也不丢已完成的行"),
        end_loop(),
        excel_close("excel_instance"),
        log(text("Excel 逐行提问完成")),
    )
    return t
