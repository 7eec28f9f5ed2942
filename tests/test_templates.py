"""Flow templates (flow_templates/): the committed files are valid ShadowBot blocks as far as
public material lets us check, they call the real dist/coze.py correctly, and the validator
catches broken templates."""
import base64
import copy
import importlib.util
import inspect
import io
import json
import os
import re
import shutil
import sys
import uuid

import pytest

from helpers import ROOT, load_dist

import flow_templates as ft
from flow_templates import catalog, clipboard, render, validate

NAMES = ft.TEMPLATE_NAMES

# The facts about ShadowBot's blocks this test relies on, typed in by hand for each block the
# templates use: (required input keys, output keys). Source: public GitHub repository
# 1zsleep/shadowbot-skill, commit 29a7b77, files
# shadowbot-block-to-clipboard/scripts/shadowbot_blocklib/Zh_CN_{process,programing,dialog,
# workflow,excel,list}_blocks_json (the block catalogue of a recent ShadowBot client); read
# 2026-11-24. Kept separate from flow_templates/catalog.py on purpose: two independent
# typings of the same facts must agree.
SHADOWBOT_BLOCKS = {
    "process.invoke_module": (["module", "function"], ["invoke_result"]),
    "programing.variable": ([], ["variable"]),
    "programing.log": (["type", "text"], []),
    "dialog.show_alert": (["title", "message"], []),
    "programing.try": ([], []),
    "programing.catch": ([], ["exception"]),
    "programing.endtry": ([], []),
    "workflow.forin": (["list", "output_with_index"], ["loop_item", "loop_index"]),
    "workflow.endloop": ([], []),
    "workflow.if": (["operand1", "operator"], []),
    "workflow.endif": ([], []),
    "workflow.continue": ([], []),
    "workflow.break": ([], []),
    "excel.launch": (["launch_way", "driver_way"], ["excel_instance"]),
    "excel.loop_data_from_workbook": (["workbook", "loop_way"],
                                      ["loop_item", "loop_item_rownum", "loop_item_columnname"]),
    "excel.write_data_to_workbook": (["workbook", "write_range", "content"], []),
    "excel.save": (["excel_instance", "save_way"], []),
    "excel.close": (["operation", "close_way", "close_process", "task_kill"], []),
    "list.create": ([], ["list_instance"]),
    "list.append_or_insert": (["lst", "insert_way", "elem"], []),
}
VALUE = re.compile(r"^1[0-6]:", re.S)


def read(path):
    with io.open(path, encoding="utf-8") as handle:
        return handle.read()


@pytest.fixture(scope="module")
def committed():
    """{name: (clipboard blocks, flow document, html text)} as committed."""
    out = {}
    for name in NAMES:
        files = ft.paths(ROOT, name)
        out[name] = (json.loads(read(files["blocks"])), json.loads(read(files["flow"])), read(files["html"]))
    return out


@pytest.fixture(scope="module")
def coze():
    return load_dist("coze_templates_test")


def all_values(block):
    """Every prefixed value of a block, including the values inside 调用模块's params."""
    for entry in block["inputs"].values():
        yield entry["value"]
    if block["name"] == "process.invoke_module":
        for _, value in validate.invoke_params(block["inputs"]["params"]["value"]):
            yield value


def invocations(blocks):
    for block in blocks:
        if block["name"] == "process.invoke_module":
            yield block["inputs"]["function"]["value"][3:], validate.invoke_params(block["inputs"]["params"]["value"])


# ---- the committed templates -------------------------------------------------------------

def test_committed_files_equal_a_fresh_generation():
    stale = ft.check_templates(ROOT)
    assert stale == [], "run python build.py and commit: %s" % [os.path.relpath(p, ROOT) for p in stale]


def test_generation_is_deterministic():
    first = dict((name, ft.generate(name)[1]) for name in NAMES)
    second = dict((name, ft.generate(name)[1]) for name in NAMES)
    assert first == second


@pytest.mark.parametrize("name", NAMES)
def test_template_passes_every_check(name, committed, coze):
    clip, flow, html = committed[name]
    found = validate.check_template_files(clip, flow, html, ft.module_signatures(coze), ft.module_io())
    assert found == []


@pytest.mark.parametrize("name", NAMES)
def test_ids_are_unique_uuids(name, committed):
    clip, flow, _ = committed[name]
    ids = [b["id"] for b in clip]
    assert len(set(ids)) == len(ids)
    for id_ in ids:
        uuid.UUID(id_)
    assert set(b["id"] for b in flow["blocks"]) <= set(ids)


def test_ids_differ_between_templates(committed):
    ids = [b["id"] for name in NAMES for b in committed[name][0]]
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("name", NAMES)
def test_every_block_is_a_shadowbot_block_with_its_required_inputs(name, committed):
    clip, flow, _ = committed[name]
    for form, blocks in (("clipboard", clip), ("flow", flow["blocks"])):
        for block in blocks:
            assert block["name"] in SHADOWBOT_BLOCKS, block["name"]
            required, outputs = SHADOWBOT_BLOCKS[block["name"]]
            for key in required:
                value = block["inputs"][key]["value"]
                assert value is not None and value != "10:", (name, block["name"], key)
            assert sorted(block.get("outputs", {})) == sorted(outputs), (name, block["name"])
            assert ("__kind__" in block) == (form == "clipboard")
            if form == "clipboard":
                assert block["__kind__"] == 0


def test_hand_tables_agree():
    """The test's table and flow_templates/catalog.py were typed separately from the same source."""
    for name, (required, outputs) in SHADOWBOT_BLOCKS.items():
        definition = catalog.CATALOG[name]
        assert sorted(i.name for i in definition.inputs if i.required) == sorted(required), name
        assert sorted(o.id for o in definition.outputs) == sorted(outputs), name


@pytest.mark.parametrize("name", NAMES)
def test_every_input_value_has_a_kind_prefix(name, committed):
    for block in committed[name][0]:
        for value in all_values(block):
            assert value is None or VALUE.match(value), (block["name"], value)
            if value is not None and value.startswith("13:"):
                validate.parse_expression(value[3:])  # a SyntaxError fails the test


@pytest.mark.parametrize("name", NAMES)
def test_containers_are_closed_in_order_and_variables_set_before_use(name, committed):
    clip, flow, _ = committed[name]
    assert validate.check_blocks(clip, "clipboard") == []
    assert validate.check_blocks(flow["blocks"], "flow", predefined=[p["name"] for p in flow["parameters"]]) == []


@pytest.mark.parametrize("name", NAMES)
def test_invoke_module_calls_match_dist_coze(name, committed, coze):
    clip, flow, _ = committed[name]
    calls = list(invocations(clip))
    # every template calls the coze module, except the sub-flow the module calls (a local tool)
    assert calls or name == "tool_subflow", "every template calls the coze module"
    for block in clip:
        if block["name"] == "process.invoke_module":
            assert block["inputs"]["module"]["value"] == "10:coze"
    for function, params in calls:
        assert hasattr(coze, function), "dist/coze.py has no %s()" % function
        signature = inspect.signature(getattr(coze, function))
        names = [n for n, _ in params]
        unknown = [n for n in names if n not in signature.parameters]
        assert unknown == [], "%s() does not accept %s" % (function, unknown)
        missing = [n for n, p in signature.parameters.items()
                   if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and n not in names]
        assert missing == [], "%s() needs %s" % (function, missing)
        assert not any(n in ("token", "bot_id") for n in names), "templates rely on global variables, not typed secrets"


@pytest.mark.parametrize("name", NAMES)
def test_html_fragment_decodes_to_the_blocks(name, committed):
    clip, _, html = committed[name]
    match = re.search(r'<shadowbot id="blocks" style="display:none">(.*?)</shadowbot>', html, re.S)
    assert match, "no clipboard fragment"
    wrapper = json.loads(match.group(1))
    assert (wrapper["version"], wrapper["contentType"]) == ("1.0.1", 1)
    assert json.loads(base64.b64decode(wrapper["data"]).decode("utf-8")) == clip


def test_ask_once_is_a_sub_flow_with_the_module_parameters(committed, coze):
    flow = committed["ask_once"][1]
    assert [(p["name"], p["direction"], p["type"]) for p in flow["parameters"]] == [
        ("question", "In", "str"), ("answer", "Out", "str")]
    reads, writes = ft.module_io()
    assert "question" in reads and "answer" in writes  # the same names as main(args)


@pytest.mark.parametrize("name", NAMES)
def test_flow_parameters_match_what_the_module_reads_and_writes(name, committed, coze):
    flow = committed[name][1]
    reads, writes = ft.module_io()
    for p in flow["parameters"]:
        if p["name"] in reads - writes:
            assert p["direction"] == "In", p
        if p["name"] in writes - reads:
            assert p["direction"] == "Out", p
    assert validate.check_flow(flow, None, (reads, writes)) == []


@pytest.mark.parametrize("name", NAMES)
def test_pasted_blocks_set_the_input_parameters_first(name, committed):
    clip, flow, _ = committed[name]
    inputs = [p for p in flow["parameters"] if p["direction"] == "In"]
    for block, p in zip(clip, inputs):
        assert block["name"] == "programing.variable"
        assert block["outputs"]["variable"]["name"] == p["name"]
        prefix = "13:" if p["kind"] == "Expression" else "10:"
        assert block["inputs"]["value"]["value"] == prefix + p["value"]
    assert len(clip) == len(inputs) + len(flow["blocks"])


def test_docs_have_a_recipe_for_every_template():
    doc = read(os.path.join(ROOT, "docs", "templates.md"))
    for name in NAMES:
        section = re.search(r"<!-- recipe:%s:start[^>]*-->\n(.*?)<!-- recipe:%s:end -->" % (name, name), doc, re.S)
        assert section and section.group(1).strip(), name
        template = ft.load_template(name)
        for function, params in invocations(render.clipboard_blocks(template)):
            assert "方法名称:`%s`" % function in section.group(1)
            for param, _ in params:
                assert "`%s` = " % param in section.group(1)
    assert "未验证" in doc and "没法核对" in doc


def test_blocks_are_shaped_like_real_exported_blocks(committed):
    """The shapes seen in real exported flows (docs/templates.md, "哪些核对过")."""
    seen = set()
    for name in NAMES:
        for block in committed[name][0]:
            seen.add(block["name"])
            assert ("comment" in block) == (block["name"] in COMMENTED_IN_REAL_EXPORTS)
            if block["name"] == "programing.variable":
                value_type = block["inputs"]["value_type"]["value"]
                assert value_type == "10:" + block["outputs"]["variable"]["type"]
                assert block["comment"] == "设置%s变量%%variable%%=%%value%%" % block["outputs"]["variable"]["variableLabel"]
            if block["name"] in ("programing.try", "programing.catch", "workflow.if", "workflow.forin"):
                assert block["foldState"] == "UnFold"
            for entry in block["inputs"].values():
                if (entry.get("value") or "").startswith("15:"):
                    seen.add("15:")
                    assert all(piece[:3] in ("10:", "11:", "13:") for piece in json.loads(entry["value"][3:]))
    assert {"programing.variable", "programing.try", "programing.catch", "15:"} <= seen
    types = set(b["outputs"]["variable"]["type"] for n in NAMES for b in committed[n][0] if b["name"] == "programing.variable")
    assert {"str", "list", "dict"} <= types  # not everything is text


# the kinds of block our templates use whose real exports (qwenzi/rpa_invoice .dev/*.flow.json) carry
# a "comment" key; the others there have none, and the unseen kinds (forin, list, save, alert) get none
COMMENTED_IN_REAL_EXPORTS = {"programing.variable", "excel.loop_data_from_workbook",
                             "excel.write_data_to_workbook", "process.invoke_module"}


def test_excel_and_output_shapes_match_real_exports(committed):
    """Copied from real exported blocks (qwenzi/rpa_invoice): which output keys exist, and the
    write block's unset start column."""
    blocks = [b for name in NAMES for b in committed[name][0]]
    loop = next(b for b in blocks if b["name"] == "excel.loop_data_from_workbook")
    assert loop["outputs"]["loop_item"] == {"name": "loop_excel", "variableLabel": "当前循环行的数据",
                                            "type": "table.row<any>", "isEnable": True}
    assert loop["outputs"]["loop_item_rownum"] == {"name": "loop_item_rownum", "isEnable": True}
    assert loop["outputs"]["loop_item_columnname"] == {"name": "loop_item_columnname", "isEnable": False}
    write = next(b for b in blocks if b["name"] == "excel.write_data_to_workbook")
    assert write["inputs"]["begin_column_name"] == {"value": "10:"} and write["outputs"] == {}
    assert next(b for b in blocks if b["name"] == "excel.launch")["outputs"]["excel_instance"] == {
        "name": "excel_instance", "variableLabel": "打开的Excel对象", "isEnable": True}
    assert next(b for b in blocks if b["name"] == "programing.catch")["outputs"] == {
        "exception": {"name": "exception", "isEnable": True}}
    assert next(b for b in blocks if b["name"] == "process.invoke_module")["outputs"]["invoke_result"] == {
        "name": "answer", "type": "any", "isEnable": True}


def test_invoke_module_comment_names_each_parameter_as_shadowbot_does(committed):
    block = next(b for b in committed["ask_once"][0] if b["name"] == "process.invoke_module")
    head, encoded, tail = block["comment"].split("%params:")[0], block["comment"].split("%params:")[1].split("%")[0], ""
    assert head == "调用模块%module%中的%function%方法并传入参数"
    assert json.loads(base64.b64decode(encoded).decode("utf-8")) == ["question值为%question%\uff0c"]
    assert block["comment"].endswith("%将结果保存到%invoke_result%")


def test_templates_doc_says_what_was_checked_against_real_data():
    doc = read(os.path.join(ROOT, "docs", "templates.md"))
    checked = doc[doc.index("## 哪些核对过"):]
    for words in ("真实", "调用模块", "params", "build.py copy", "逐字节", "网页", "未证实"):
        assert words in checked, words
    ways = doc[doc.index("## 放进影刀的方法"):doc.index("## ask_once")]
    assert ways.index("build.py copy") < ways.index("网页") < ways.index("手动搭建")


# ---- the validator catches broken templates ----------------------------------------------

def _find(blocks, name, nth=0):
    return [i for i, b in enumerate(blocks) if b["name"] == name][nth]


def _set_param(block, name, value):
    params = validate.invoke_params(block["inputs"]["params"]["value"])
    params = [(n, value if n == name else v) for n, v in params]
    block["inputs"]["params"]["value"] = "16:" + json.dumps([{n: v} for n, v in params if v is not None],
                                                            ensure_ascii=False)


def _duplicate_id(clip, flow):
    clip[1]["id"] = clip[0]["id"]


def _unknown_block(clip, flow):
    clip[1]["name"] = "programing.no_such_block"


def _missing_required(clip, flow):
    clip[_find(clip, "dialog.show_alert")]["inputs"]["title"]["value"] = None


def _no_prefix(clip, flow):
    clip[_find(clip, "programing.log")]["inputs"]["text"]["value"] = "answer"


def _bad_expression(clip, flow):
    clip[_find(clip, "programing.log")]["inputs"]["text"]["value"] = "13:str(answer"


def _bad_option(clip, flow):
    clip[_find(clip, "programing.log")]["inputs"]["type"]["value"] = "10:loud"


def _read_before_set(clip, flow):
    i = _find(clip, "programing.log")
    clip.insert(1, clip.pop(i))


def _unknown_function(clip, flow):
    clip[_find(clip, "process.invoke_module")]["inputs"]["function"]["value"] = "10:asks"


def _unknown_parameter(clip, flow):
    block = clip[_find(clip, "process.invoke_module")]
    block["inputs"]["params"]["value"] = '16:[{"question":"11:question"},{"questoin":"10:x"}]'


def _missing_parameter(clip, flow):
    _set_param(clip[_find(clip, "process.invoke_module")], "question", None)


def _output_keyed_by_name(clip, flow):
    block = clip[_find(clip, "process.invoke_module")]
    block["outputs"] = {"answer": block["outputs"]["invoke_result"]}


def _no_kind(clip, flow):
    del clip[0]["__kind__"]


def _unclosed_loop(clip, flow):
    del clip[_find(clip, "workflow.endloop")]


def _wrong_nesting(clip, flow):
    end_loop, end_try = _find(clip, "workflow.endloop"), _find(clip, "programing.endtry")
    clip[end_loop], clip[end_try] = clip[end_try], clip[end_loop]


def _catch_outside_try(clip, flow):
    del clip[_find(clip, "programing.try")]


def _continue_outside_loop(clip, flow):
    clip.append(copy.deepcopy(clip[_find(clip, "workflow.continue")]))
    clip[-1]["id"] = str(uuid.uuid4())


def _parameter_direction(clip, flow):
    flow["parameters"][1]["direction"] = "In"


def _output_never_set(clip, flow):
    flow["parameters"][1]["name"] = "reply"


def _variable_type_null(clip, flow):
    clip[_find(clip, "programing.variable")]["inputs"]["value_type"]["value"] = None


def _variable_type_disagrees_with_output(clip, flow):
    clip[_find(clip, "programing.variable")]["outputs"]["variable"]["type"] = "int"


def _dict_value_typed_as_text(clip, flow):
    block = clip[_find(clip, "programing.variable", -1)]  # workflow: parameters = {"input": input_text}
    block["inputs"]["value_type"]["value"] = "10:str"
    block["outputs"]["variable"].update(type="str", variableLabel="字符串")


def _try_without_fold_state(clip, flow):
    del clip[_find(clip, "programing.try")]["foldState"]


def _catch_without_fold_state(clip, flow):
    del clip[_find(clip, "programing.catch")]["foldState"]


def _block_without_comment(clip, flow):
    del clip[_find(clip, "process.invoke_module")]["comment"]


def _log_with_a_comment(clip, flow):
    clip[_find(clip, "programing.log")]["comment"] = ""


def _row_number_with_a_type(clip, flow):
    clip[_find(clip, "excel.loop_data_from_workbook")]["outputs"]["loop_item_rownum"]["type"] = "int"


def _template_text_with_braces(clip, flow):
    clip[_find(clip, "programing.log")]["inputs"]["text"]["value"] = "15:问:{question}"


def _template_piece_without_prefix(clip, flow):
    clip[_find(clip, "programing.log")]["inputs"]["text"]["value"] = '15:["问:","11:question"]'


MUTATIONS = [
    ("ask_once", _duplicate_id, "duplicate id"),
    ("ask_once", _unknown_block, "is not a ShadowBot block"),
    ("ask_once", _missing_required, "required input 'title' is missing"),
    ("ask_once", _no_prefix, "no valid kind prefix"),
    ("ask_once", _bad_expression, "not a Python 3.7 expression"),
    ("ask_once", _bad_option, "'loud' is not one of"),
    ("ask_once", _read_before_set, "reads variable 'answer' before any block sets it"),
    ("ask_once", _unknown_function, "has no function 'asks'"),
    ("ask_once", _unknown_parameter, "has no parameter 'questoin'"),
    ("ask_once", _missing_parameter, "needs parameter 'question'"),
    ("ask_once", _output_keyed_by_name, "unknown output 'answer'"),
    ("ask_once", _no_kind, '"__kind__": 0'),
    ("excel_rows", _unclosed_loop, "is never closed"),
    ("excel_rows", _wrong_nesting, "wrong nesting"),
    ("excel_rows", _catch_outside_try, "outside a Try"),
    ("excel_rows", _continue_outside_loop, "outside a loop"),
    ("ask_once", _parameter_direction, "output of the coze module"),
    ("ask_once", _output_never_set, "never set by a block"),
    ("ask_once", _variable_type_null, 'value_type must be "10:<type>"'),
    ("ask_once", _variable_type_disagrees_with_output, "but the output says type 'int'"),
    ("workflow", _dict_value_typed_as_text, "the value is a dict but value_type says str"),
    ("excel_rows", _try_without_fold_state, 'programing.try needs "foldState": "UnFold"'),
    ("excel_rows", _catch_without_fold_state, 'programing.catch needs "foldState": "UnFold"'),
    ("ask_once", _block_without_comment, 'real process.invoke_module blocks carry a "comment"'),
    ("ask_once", _log_with_a_comment, 'real programing.log blocks carry no "comment" key'),
    ("excel_rows", _row_number_with_a_type, "output 'loop_item_rownum' carries no type in real exports"),
    ("conversation", _template_text_with_braces, "must be a JSON list of prefixed pieces"),
    ("conversation", _template_piece_without_prefix, "needs a 10:/11:/13: prefix"),
]


@pytest.mark.parametrize("name,mutate,expected", MUTATIONS, ids=[m[1].__name__.strip("_") for m in MUTATIONS])
def test_validator_reports_a_broken_template(name, mutate, expected, committed, coze):
    clip, flow, html = copy.deepcopy(committed[name])
    assert validate.check_template_files(clip, flow, html, ft.module_signatures(coze), ft.module_io()) == []
    mutate(clip, flow)
    html = render.html_page(ft.load_template(name), clip)  # keep the page in step with the blocks
    found = validate.check_template_files(clip, flow, html, ft.module_signatures(coze), ft.module_io())
    assert any(expected in p for p in found), found


def test_validator_reports_an_html_page_that_does_not_match(committed):
    clip, flow, html = copy.deepcopy(committed["ask_once"])
    other = render.html_page(ft.load_template("ask_once"), clip[:-1])
    assert validate.check_html(other, clip) == ["HTML fragment does not decode to the clipboard blocks"]
    assert validate.check_html("<html></html>", clip)[0].startswith("HTML fragment:")


def test_build_refuses_a_broken_template(monkeypatch, tmp_path):
    broken = ft.load_template("ask_once")
    del broken.blocks[0]  # the log and the dialog now read `answer` before anything sets it
    original = ft.load_template
    monkeypatch.setattr(ft, "load_template", lambda name: broken if name == "ask_once" else original(name))
    with pytest.raises(RuntimeError) as info:
        ft.build_templates(str(tmp_path))
    assert "reads variable 'answer'" in str(info.value)
    assert not os.path.exists(os.path.join(str(tmp_path), "flow_templates"))


# ---- build, clipboard formats, copy ------------------------------------------------------

def test_build_templates_writes_every_file_once(tmp_path):
    root = str(tmp_path)
    os.makedirs(os.path.join(root, "docs"))
    shutil.copy(os.path.join(ROOT, "docs", "templates.md"), os.path.join(root, "docs", "templates.md"))
    written = ft.build_templates(root)
    expected = [p for name in NAMES for p in ft.paths(root, name).values()]
    assert sorted(set(written) - {os.path.join(root, "docs", "templates.md")}) == sorted(expected)
    assert ft.build_templates(root) == []  # unchanged files are not rewritten
    for name in NAMES:
        assert read(ft.paths(root, name)["flow"]) == read(ft.paths(ROOT, name)["flow"])


def test_cf_html_offsets_point_at_the_fragment():
    fragment = render.fragment(render.clipboard_blocks(ft.load_template("conversation")))
    data = clipboard.cf_html(fragment)
    header = dict(line.split(":", 1) for line in data.split(b"<html>")[0].decode("ascii").split("\r\n") if line)
    assert header["Version"] == "0.9"
    offsets = dict((k, int(v)) for k, v in header.items() if k != "Version")
    assert data[offsets["StartFragment"]:offsets["EndFragment"]].decode("utf-8") == fragment
    assert data[offsets["StartHTML"]:offsets["EndHTML"]].startswith(b"<html>")
    assert offsets["EndHTML"] == len(data)


def test_blocks_format_is_a_dotnet_serialized_string():
    text = json.dumps(render.clipboard_blocks(ft.load_template("excel_rows")), ensure_ascii=False)
    payload = clipboard.nrbf_string(text)
    # the 16-byte marker as published (shadowbot-skill, shadowbot-rpa/SKILL.md)
    assert payload[:16] == bytes(bytearray.fromhex("96A79EFD133B7043A67956106BB288FB"))
    assert payload[16:33] == b"\x00\x01\x00\x00\x00\xff\xff\xff\xff\x01\x00\x00\x00\x00\x00\x00\x00"
    assert payload[33:38] == b"\x06\x01\x00\x00\x00"
    assert payload[-1:] == b"\x0b"
    assert clipboard.read_nrbf_string(payload) == text
    assert clipboard.read_nrbf_string(clipboard.nrbf_string("短")) == "短"


def test_copy_template_outside_windows_says_where_the_files_are(monkeypatch, capsys):
    monkeypatch.setattr(clipboard, "is_windows", lambda: False)
    assert ft.copy_template("excel_batch") == 1
    out = capsys.readouterr().out
    assert "不是 Windows" in out and "excel_batch.html" in out and "Ctrl+V" in out and "docs/templates.md" in out


def test_copy_template_on_windows_writes_both_formats_with_fresh_ids(monkeypatch, capsys, committed):
    captured = {}
    monkeypatch.setattr(clipboard, "is_windows", lambda: True)
    monkeypatch.setattr(clipboard, "set_clipboard",
                        lambda blocks, html, titles: captured.update(blocks=blocks, html=html, titles=titles))
    assert ft.copy_template("ask_once") == 0
    assert "Ctrl+V" in capsys.readouterr().out
    pasted = json.loads(captured["blocks"])
    assert render.decode_fragment(captured["html"]) == pasted
    committed_blocks = committed["ask_once"][0]
    assert [b["name"] for b in pasted] == [b["name"] for b in committed_blocks]
    assert not set(b["id"] for b in pasted) & set(b["id"] for b in committed_blocks)
    assert captured["titles"].split("\r\n") == ["设置变量", "调用模块", "打印日志", "打开消息对话框"]


def test_copy_template_rejects_an_unknown_name(capsys):
    assert ft.copy_template("nope") == 2
    assert "ask_once" in capsys.readouterr().out
