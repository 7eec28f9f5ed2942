"""tool_subflow: the sub-flow 查询库存 that serves a bot's local tool (端插件) of the same name:
it looks the product up in a workbook and hands the stock cell back as the tool's output."""
from .blocks import (Template, break_, end_if, end_loop, excel_close, excel_loop_rows, excel_open, expr, if_, log,
                     set_variable, template_text, text, var)


def build():
    t = Template("tool_subflow", "本地工具子流程:查询库存",
                 "给智能体的端插件「查询库存」干活的子流程:打开库存表,逐行找 A 列等于参数 product 的商品,"
                 "把 B 列的库存写进输出参数 output(找不到时说明找不到),关闭表格。流程名就是主流程 tools 里填的名字(这里是查询库存;影刀给它的文件名如 process5 也可以填),"
                 "输入参数名和端插件的参数名一致(product),输出参数叫 output;"
                 "主流程用 coze.ask 的 tools 参数把工具交给它(见模板 ask_with_tool)。")
    t.param_in("product", "str", "螺丝", "端插件传来的参数 product(商品名);参数名要和扣子里端插件的参数名一样")
    t.param_out("output", "str", "", "交回智能体的工具结果(文本)")
    t.add(
        set_variable("excel_path", text("C:\\影刀数据\\库存.xlsx"), note="库存表:A 列商品名,B 列库存,第 1 行是表头"),
        set_variable("output", template_text(text("库存表里没有「"), var("product"), text("」这个商品")),
                     note="先假定找不到,找到了再改"),
        excel_open(var("excel_path"), note="运行前请先在 Excel / WPS 里关掉这个文件"),
        excel_loop_rows("excel_instance", 2, note="从第 2 行开始(跳过表头),-1 表示到最后一行"),
        if_(expr("str(loop_excel[0]).strip()"), "==", expr("str(product).strip()"),
            note="A 列(下标 0)是要查的商品"),
        set_variable("output", template_text(var("product"), text(" 库存 "), expr("loop_excel[1]"), text(" 件")),
                     note="B 列(下标 1)是库存;按你的表改"),
        break_(note="找到了就不再往下找"),
        end_if(),
        end_loop(),
        excel_close("excel_instance", close_way="notsave", note="只读不写:不保存"),
        log(template_text(text("查询库存:"), var("output"))),
    )
    return t
