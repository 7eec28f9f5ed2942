"""Small helpers to describe a ShadowBot visual flow in Python.

A template module builds a `Template` from `Param`s and `Block`s made by the helpers below;
`render.py` turns it into the clipboard JSON, the .flow.json file, the HTML fragment and the
manual recipe. Input values carry ShadowBot's kind prefix:

    text("你好")        -> "10:你好"       literal text
    var("answer")       -> "11:answer"     a variable (or an expression on one, e.g. a.b)
    expr("len(x) > 0")  -> "13:len(x) > 0" a Python expression
    json16([...])       -> "16:[...]"      a list / dict as JSON
    template_text(text("问:"), var("q"))  -> '15:["10:问:","11:q"]'  text with variable parts

Real exported flows store 15: values as a JSON list of prefixed pieces, not as "{name}" text.
"""
import json

from .catalog import VARIABLE_TYPES

MODULE = "coze"  # the name users give dist/coze.py inside their ShadowBot app


def text(value):
    return "10:" + value


def var(name):
    return "11:" + name


def expr(code):
    return "13:" + code


def json16(value):
    return "16:" + json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def template_text(*pieces):
    """15: text made of pieces, each a prefixed value (text(...), var(...), expr(...))."""
    return "15:" + json.dumps(list(pieces), ensure_ascii=False, separators=(",", ":"))


class Param(object):
    """A flow parameter (流程参数)."""

    def __init__(self, name, direction, type_, value, description, kind="Text"):
        self.name, self.direction, self.type, self.value = name, direction, type_, value
        self.description, self.kind = description, kind

    def as_json(self):
        return {"name": self.name, "direction": self.direction, "type": self.type, "value": self.value,
                "description": self.description, "kind": self.kind}

    def as_value(self):
        """The parameter's default as a block input value."""
        return expr(self.value) if self.kind == "Expression" else text(self.value)


class Block(object):
    """One block: inputs maps an input name to a prefixed value, or to (value, display);
    outputs maps an output id to the variable it is saved to (ids not given are disabled)."""

    def __init__(self, name, inputs=None, outputs=None, retry=None, note="", output_types=None):
        self.name = name
        self.inputs = dict(inputs or {})
        self.outputs = dict(outputs or {})
        self.output_types = dict(output_types or {})  # output id -> type, where it differs from the catalogue
        self.retry = retry  # (times, seconds) for ShadowBot's per-block "retry" error handling
        self.note = note    # one Chinese sentence for the manual recipe


class Template(object):
    def __init__(self, name, title, summary):
        self.name, self.title, self.summary = name, title, summary
        self.parameters = []
        self.blocks = []

    def param_in(self, name, type_, value, description, kind="Text"):
        self.parameters.append(Param(name, "In", type_, value, description, kind))

    def param_out(self, name, type_, value, description, kind="Text"):
        self.parameters.append(Param(name, "Out", type_, value, description, kind))

    def add(self, *blocks):
        self.blocks.extend(blocks)

    def clipboard_specs(self):
        """The blocks users paste: pasting brings no flow parameters, so each input parameter
        becomes a 设置变量 block at the top, set to the parameter's default value."""
        prefix = [set_variable(p.name, p.as_value(), p.type,
                               note="代替流程参数 %s(粘贴不会带上流程参数);作为子流程使用时删掉这一块,改建输入参数 %s" % (p.name, p.name))
                  for p in self.parameters if p.direction == "In"]
        return prefix + list(self.blocks)


# ---- blocks ------------------------------------------------------------------------------

def set_variable(name, value, type_="str", note=""):
    """设置变量: real blocks carry the type twice, as value_type "10:<type>" and as the
    output's type (str, int, dict, list); ShadowBot never leaves it empty."""
    if type_ not in VARIABLE_TYPES:
        raise ValueError("set_variable type must be one of %s, got %r" % (", ".join(VARIABLE_TYPES), type_))
    return Block("programing.variable", {"value_type": text(type_), "value": value}, {"variable": name},
                 note=note, output_types={"variable": type_})


def log(value, level="info", note=""):
    return Block("programing.log", {"type": text(level), "text": value}, note=note)


def alert(title, message, note=""):
    return Block("dialog.show_alert", {"title": text(title), "message": message}, note=note)


def invoke(function, params, output, retry=None, note=""):
    """调用模块 coze.<function>; params is a list of (parameter name, prefixed value).

    Stored as real exported flows store it (checked against 30 real 调用模块 blocks): a `16:`
    JSON list of one-key objects {name: "<prefixed value>"}, returnType "10:any"."""
    encoded = json16([{name: value} for name, value in params])
    return Block("process.invoke_module",
                 {"module": (text(MODULE), MODULE), "function": text(function), "params": encoded,
                  "returnType": text("any")},
                 {"invoke_result": output}, retry=retry, note=note)


def if_(operand1, operator, operand2=None, note=""):
    inputs = {"operand1": operand1, "operator": text(operator)}
    if operand2 is not None:
        inputs["operand2"] = operand2
    return Block("workflow.if", inputs, note=note)


def end_if():
    return Block("workflow.endif")


def for_each(list_value, item, note=""):
    return Block("workflow.forin", {"list": list_value}, {"loop_item": item}, note=note)


def end_loop():
    return Block("workflow.endloop")


def continue_(note=""):
    return Block("workflow.continue", note=note)


def break_(note=""):
    return Block("workflow.break", note=note)


def try_(note=""):
    return Block("programing.try", note=note)


def catch(exception="exception", note=""):
    return Block("programing.catch", outputs={"exception": exception}, note=note)


def end_try():
    return Block("programing.endtry")


def list_create(name, note=""):
    return Block("list.create", outputs={"list_instance": name}, note=note)


def list_append(list_name, value, note=""):
    return Block("list.append_or_insert", {"lst": var(list_name), "insert_way": text("append"), "elem": value},
                 note=note)


def excel_open(path_value, instance="excel_instance", driver="auto_check", note=""):
    return Block("excel.launch", {"launch_way": text("open"), "driver_way": text(driver),
                                  "open_filename": path_value, "save_filename": text("")},
                 {"excel_instance": instance}, note=note)


def excel_loop_rows(workbook, first_row, item="loop_excel", row_number="loop_item_rownum", note=""):
    """循环Excel内容, mode 循环行, from first_row to the last row (-1)."""
    return Block("excel.loop_data_from_workbook",
                 {"workbook": var(workbook), "loop_way": text("loop_row"), "begin_row_num": text(str(first_row)),
                  "end_row_num": text("-1")},
                 {"loop_item": item, "loop_item_rownum": row_number}, note=note)


def excel_write_cell(workbook, row_value, column, content, note=""):
    """写入内容至Excel工作表, 写入范围 区域 with a single cell (行号 + 列名), as ShadowBot itself
    stores a one-cell write."""
    return Block("excel.write_data_to_workbook",
                 {"workbook": var(workbook), "write_range": text("area"), "row_num": row_value,
                  "column_name": text(column), "content": content}, note=note)


def excel_save(workbook, note=""):
    return Block("excel.save", {"excel_instance": var(workbook), "save_way": text("save")}, note=note)


def excel_close(workbook, close_way="save", note=""):
    """关闭Excel: close_way "save" (保存) or "notsave" (不保存)."""
    return Block("excel.close", {"operation": text("close_specified"), "excel_instance": var(workbook),
                                 "close_way": text(close_way)}, note=note)
