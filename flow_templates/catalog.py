"""The ShadowBot blocks our templates use: hand-written facts, one entry per block.

Source: the public block catalogue of a recent ShadowBot client (extracted by its author from
ShadowBot.Runtime.Development.dll), repository `1zsleep/shadowbot-skill` on GitHub, commit
29a7b77, files `shadowbot-block-to-clipboard/scripts/shadowbot_blocklib/Zh_CN_process_blocks_json`,
`Zh_CN_programing_blocks_json`, `Zh_CN_dialog_blocks_json`, `Zh_CN_workflow_blocks_json`,
`Zh_CN_excel_blocks_json`, `Zh_CN_list_blocks_json`; read 2026-11-24. Only the facts we rely on
were typed in by hand (names, required flags, defaults, select options, output ids and default
variable names, which blocks open/close containers); none of that repository's files are copied.

Each input is (name, label, required, default, options); `options` maps a select value to the
Chinese text the editor shows. Each output is (id, default variable name, type, variable label, caption in the editor):
in a block the outputs are keyed by the id, and the variable name goes into "name". A type or label
of None is a key real exported blocks do not write (checked against the 30-odd kinds of block in
the public app qwenzi/rpa_invoice, `xbot_robot/.dev/*.flow.json`; see docs/templates.md).
"""
from collections import namedtuple

Input = namedtuple("Input", "name label required default options")
Output = namedtuple("Output", "id name type label caption")
BlockDef = namedtuple("BlockDef", "name title role inputs outputs")

# structural roles
PLAIN = "plain"
OPEN_IF, MIDDLE_IF, CLOSE_IF = "open_if", "middle_if", "close_if"
OPEN_LOOP, CLOSE_LOOP, LOOP_CONTROL = "open_loop", "close_loop", "loop_control"
OPEN_TRY, CATCH, FINALLY, CLOSE_TRY = "open_try", "catch", "finally", "close_try"


def _in(name, label="", required=False, default=None, options=None):
    return Input(name, label, required, default, options)


LOG_TYPES = {"debug": "调试", "info": "信息", "warning": "警告", "error": "错误"}
OPERATORS = {"==": "等于", "!=": "不等于", ">": "大于", ">=": "大于等于", "<": "小于", "<=": "小于等于",
             "in": "包含", "not in": "不包含", "is true": "等于True", "is false": "等于False",
             "empty value": "是空值", "not empty value": "不是空值", "starts with": "以对象2开头",
             "not starts with": "不以对象2开头", "ends with": "以对象2结束", "not ends with": "不以对象2结束"}

_DEFS = [
    # ---- Zh_CN_process_blocks_json
    BlockDef("process.invoke_module", "调用模块", PLAIN, [
        _in("module", "模块名称", True),
        _in("function", "方法名称", True),
        _in("params", "方法参数列表"),
        _in("returnType", "返回值类型"),
    ], [Output("invoke_result", "invoke_result", "any", None, "模块调用结果")]),
    # ---- Zh_CN_programing_blocks_json
    BlockDef("programing.variable", "设置变量", PLAIN, [
        _in("value_type", "变量类型"),
        _in("value", "变量值"),
    ], [Output("variable", "variable", "str", "变量", "变量名")]),
    BlockDef("programing.log", "打印日志", PLAIN, [
        _in("type", "日志类型", True, "10:info", LOG_TYPES),
        _in("text", "日志内容", True),
    ], []),
    BlockDef("programing.try", "Try", OPEN_TRY, [], []),
    BlockDef("programing.catch", "Catch", CATCH, [], [Output("exception", "exception", None, None, "错误信息")]),
    BlockDef("programing.finally", "Finally", FINALLY, [], []),
    BlockDef("programing.endtry", "End Try", CLOSE_TRY, [], []),
    # ---- Zh_CN_dialog_blocks_json
    BlockDef("dialog.show_alert", "打开消息对话框", PLAIN, [
        _in("title", "对话框标题", True),
        _in("message", "对话框内容", True),
    ], []),
    # ---- Zh_CN_workflow_blocks_json
    BlockDef("workflow.forin", "ForEach列表循环", OPEN_LOOP, [
        _in("list", "列表", True),
        _in("loop_start_index", "循环开始位置", False, "10:0"),
        _in("loop_end_index", "循环结束位置", False, "10:-1"),
        _in("output_with_index", "", True, "13:False"),
    ], [Output("loop_item", "loop_item", "any", "当前循环项", "存储循环项至"),
        Output("loop_index", "loop_item_index", "int", "当前循环项的位置", "存储当前循环位置至")]),
    BlockDef("workflow.endloop", "循环结束标记", CLOSE_LOOP, [], []),
    BlockDef("workflow.if", "IF 条件", OPEN_IF, [
        _in("operand1", "对象1", True),
        _in("operator", "关系", True, "10:==", OPERATORS),
        _in("operand2", "对象2"),
        _in("operator_options", "操作符参数", False, "10:{}"),
    ], []),
    BlockDef("workflow.else", "Else", MIDDLE_IF, [], []),
    BlockDef("workflow.endif", "End IF", CLOSE_IF, [], []),
    BlockDef("workflow.continue", "继续下一次循环", LOOP_CONTROL, [], []),
    BlockDef("workflow.break", "退出循环", LOOP_CONTROL, [], []),
    # ---- Zh_CN_excel_blocks_json
    BlockDef("excel.launch", "打开/新建Excel", PLAIN, [
        _in("launch_way", "启动方式", True, "10:open", {"create": "新建Excel", "open": "打开已有的Excel"}),
        _in("driver_way", "驱动方式", True, None,
            {"auto_check": "自动检测", "office": "office", "wps": "wps", "openpyxl": "openpyxl"}),
        _in("open_filename", "Excel文件路径"),
        _in("save_filename", "Excel文件路径"),
        _in("isvisible", "", False, "13:True"),
        _in("ignoreformula", "", False, "13:False"),
        _in("password", "打开密码"),
        _in("write_password", "编辑密码"),
        _in("update_links", "", False, "13:False"),
    ], [Output("excel_instance", "excel_instance", None, "打开的Excel对象", "保存Excel对象至")]),
    BlockDef("excel.loop_data_from_workbook", "循环Excel内容", OPEN_LOOP, [
        _in("workbook", "Excel对象", True),
        _in("loop_way", "循环方式", True, "10:used_range",
            {"loop_range": "循环区域", "loop_row": "循环行", "loop_column": "循环列", "used_range": "循环已使用区域"}),
        _in("range", "区域"),
        _in("begin_row_num", "起始行号"),
        _in("end_row_num", "结束行号"),
        _in("begin_column_name", "起始列名"),
        _in("end_column_name", "结束列名"),
        _in("has_header_row", "", False, "13:False"),
        _in("range_begin_row_num", "行号"),
        _in("range_begin_column_name", "列名"),
        _in("range_end_row_num", "行号"),
        _in("range_end_column_name", "列名"),
        _in("sheet_name", "Sheet页名称", False, "10:"),
        _in("using_text", "", False, "13:False"),
        _in("text_cols", "显示内容的列", False, "10:"),
        _in("clear_space", "", False, "13:False"),
    ], [Output("loop_item", "loop_excel", "table.row<any>", "当前循环行的数据", "当前循环项保存至"),
        Output("loop_item_rownum", "loop_item_rownum", None, None, "当前行号保存至"),
        Output("loop_item_columnname", "loop_item_columnname", None, None, "当前列名保存至")]),
    BlockDef("excel.write_data_to_workbook", "写入内容至Excel工作表", PLAIN, [
        _in("workbook", "Excel对象", True),
        _in("write_range", "写入范围", True, "10:area", {"area": "区域", "row": "行", "column": "列"}),
        _in("write_way", "写入方式", False, "10:append", {"append": "追加一行", "insert": "插入一行", "override": "覆盖一行"}),
        _in("write_column_way", "写入方式", False, "10:override",
            {"append": "追加一列", "insert": "插入一列", "override": "覆盖一列"}),
        _in("row_num", "行号", False, "10:1"),
        _in("column_name", "列名"),
        _in("begin_row_num", "起始行号", False, "10:1"),
        _in("begin_column_name", "起始列名", False, "10:"),
        _in("content", "写入内容", True),
        _in("sheet_name", "Sheet页名称", False, "10:"),
        _in("write_as_text_cols", "格式设置为文本的列"),
    ], []),
    BlockDef("excel.save", "保存/另存Excel", PLAIN, [
        _in("excel_instance", "Excel对象", True),
        _in("save_way", "保存方式", True, "10:save", {"save": "保存", "saveas": "另存为"}),
        _in("filename", "Excel文件路径"),
        _in("overwrite_file", "", False, "13:True"),
        _in("is_close_after_save", "", False, "13:False"),
    ], []),
    BlockDef("excel.close", "关闭Excel", PLAIN, [
        _in("operation", "操作", True, "10:close_specified",
            {"close_specified": "关闭指定Excel文件", "close_all": "关闭所有Excel文件"}),
        _in("excel_instance", "Excel对象"),
        _in("close_way", "关闭方式", True, "10:save", {"notsave": "不保存", "save": "保存", "saveas": "另存为"}),
        _in("filename", "文件路径"),
        _in("overwrite_file", "", False, "13:True"),
        _in("close_process", "关闭进程", True, "10:office", {"office": "office", "wps": "wps"}),
        _in("task_kill", "", True, "13:True"),
    ], []),
    # ---- Zh_CN_list_blocks_json
    BlockDef("list.create", "新建列表", PLAIN, [], [Output("list_instance", "list_instance", "list", "新建的列表对象", "保存列表对象至")]),
    BlockDef("list.append_or_insert", "列表插入一项", PLAIN, [
        _in("lst", "列表", True),
        _in("insert_way", "插入方式", True, "10:append", {"append": "末尾追加", "insert": "指定位置"}),
        _in("index", "插入到", False, "10:0"),
        _in("elem", "插入项内容", True),
    ], []),
]

CATALOG = dict((d.name, d) for d in _DEFS)

# value kinds by prefix (10/11/13/16 are documented with examples in the public material;
# 12/14/15 are listed in our reference notes, docs/templates.md says which are unverified)
VALUE_KINDS = {
    "10": "文本",
    "11": "变量",
    "12": "界面元素",
    "13": "Python 表达式",
    "14": "图像",
    "15": "带 {变量} 的文本",
    "16": "列表/字典(JSON)",
}

# programing.variable's types and the label ShadowBot shows for each ("字符串", "整数", "字典" seen in
# real exported flows; "列表" by analogy, unverified)
VARIABLE_TYPES = {"str": "字符串", "int": "整数", "dict": "字典", "list": "列表"}

# Blocks that ShadowBot saves with "foldState": "UnFold" (seen on if, loops, try and catch in real flows)
FOLDABLE = (OPEN_IF, OPEN_LOOP, OPEN_TRY, CATCH, FINALLY)

# The "comment" ShadowBot writes into a block: its one-line description with %input% slots,
# as seen in real exported flows. Blocks not listed have no "comment" key: real exports write none
# for excel.launch, excel.close, programing.log / try / catch / endtry, workflow.if (with ==),
# endif, endloop, continue, break; no public export shows workflow.forin, list.create,
# list.append_or_insert, excel.save or dialog.show_alert, so they get none either (unverified).
COMMENTS = {
    "programing.variable": "设置{label}变量%variable%=%value%",
    "excel.loop_data_from_workbook": "循环Excel对象%workbook%第%begin_row_num%行到第%end_row_num%行的内容\uff0c"
                                     "将每次循环项保存到%loop_item%\uff0c行号保存到%loop_item_rownum%",
    "excel.write_data_to_workbook": "在Excel对象%workbook%中\uff0c从单元格\uff08第%row_num%行\uff0c第%column_name%列\uff09"
                                    "开始写入内容%content%",
    "process.invoke_module": "调用模块%module%中的%function%方法并传入参数%params:{params}%将结果保存到%invoke_result%",
}
# one piece of process.invoke_module's %params:<base64 of a JSON list of pieces>% slot
INVOKE_PARAM_COMMENT = "{name}值为%{name}%\uff0c"  # (full-width commas, as ShadowBot writes them)

# Names the code ShadowBot generates for a flow always has in scope (module imports), so an
# expression may use them without a block setting them first.
RUNTIME_NAMES = frozenset(["glv", "package", "xbot", "xbot_visual", "time", "__name__"])
