"""Turn a Template into what ShadowBot and users get: block JSON, flow file, HTML, recipe."""
import base64
import html as htmllib
import json
import re
import uuid

from .catalog import (CATALOG, COMMENTS, FOLDABLE, INVOKE_PARAM_COMMENT, VARIABLE_TYPES, OPEN_IF, OPEN_LOOP,
                      OPEN_TRY, CATCH, FINALLY, MIDDLE_IF, CLOSE_IF, CLOSE_LOOP, CLOSE_TRY)

# Stable block ids: uuid5 of the template name and the block's position in the pasted list.
ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/yingdao-coze/flow_templates")
FRAGMENT_OPEN = '<shadowbot id="blocks" style="display:none">'
FRAGMENT_CLOSE = "</shadowbot>"


def block_id(template_name, index):
    return str(uuid.uuid5(ID_NAMESPACE, "%s/%d" % (template_name, index)))


def render_block(spec, id_):
    """A block object as it sits in a flow file (no "__kind__"): every catalogue input is
    present (unset ones get the catalogue default or null), select values carry their display
    text, variable references carry the variable name as display."""
    definition = CATALOG.get(spec.name)
    if definition is None:
        raise ValueError("unknown block %s: add its facts to flow_templates/catalog.py first" % spec.name)
    unknown = set(spec.inputs) - set(i.name for i in definition.inputs)
    if unknown:
        raise ValueError("%s has no input %s" % (spec.name, ", ".join(sorted(unknown))))
    inputs = {}
    for item in definition.inputs:
        given = spec.inputs.get(item.name, item.default)
        value, display = given if isinstance(given, tuple) else (given, None)
        entry = {"value": value}
        if display is None and isinstance(value, str):
            if value.startswith("11:"):
                display = value[3:]
            elif item.options and value[3:] in item.options:
                display = item.options[value[3:]]
        if display is not None:
            entry["display"] = display
        inputs[item.name] = entry
    unknown = set(spec.outputs) - set(o.id for o in definition.outputs)
    if unknown:
        raise ValueError("%s has no output %s" % (spec.name, ", ".join(sorted(unknown))))
    outputs = {}
    for item in definition.outputs:
        name = spec.outputs.get(item.id)
        type_ = spec.output_types.get(item.id, item.type)
        label = VARIABLE_TYPES[type_] if spec.name == "programing.variable" else item.label
        entry = {"name": name or item.name, "variableLabel": label, "type": type_, "isEnable": bool(name)}
        outputs[item.id] = dict((key, value) for key, value in entry.items() if value is not None)  # as real exports
    block = {"id": id_, "name": spec.name, "isEnabled": True}
    if spec.name in COMMENTS:
        block["comment"] = comment(spec)
    if definition.role in FOLDABLE:
        block["foldState"] = "UnFold"
    block["inputs"] = inputs
    block["outputs"] = outputs
    if spec.retry:
        times, seconds = spec.retry
        block["exception_handling"] = {"logging": True, "mode": "retry", "retryTime": times, "retryInterval": seconds}
    return block


def comment(spec):
    """The block's one-line description, as ShadowBot writes it into "comment" (empty when unknown)."""
    pattern = COMMENTS.get(spec.name, "")
    if spec.name == "programing.variable":
        return pattern.format(label=VARIABLE_TYPES[spec.output_types["variable"]])
    if spec.name == "process.invoke_module":
        names = [name for item in json.loads(spec.inputs["params"][3:]) for name in item]
        if not names:
            return ""
        pieces = json.dumps([INVOKE_PARAM_COMMENT.format(name=name) for name in names], ensure_ascii=False,
                            separators=(",", ":"))
        return pattern.format(params=base64.b64encode(pieces.encode("utf-8")).decode("ascii"))
    return pattern


def clipboard_blocks(template):
    """The JSON array ShadowBot's clipboard format ShadowBot.Flow.Blocks carries."""
    blocks = []
    for index, spec in enumerate(template.clipboard_specs()):
        block = render_block(spec, block_id(template.name, index))
        block["__kind__"] = 0
        blocks.append(block)
    return blocks


def flow_document(template):
    """The visual flow file (.dev/<flow>.flow.json): the same blocks, without the parameter
    stand-ins and "__kind__", plus the flow parameters."""
    offset = len(template.clipboard_specs()) - len(template.blocks)
    blocks = [render_block(spec, block_id(template.name, offset + i)) for i, spec in enumerate(template.blocks)]
    return {"name": template.name, "memo": template.summary, "kind": "visual", "blocks": blocks,
            "parameters": [p.as_json() for p in template.parameters]}


def titles(blocks):
    return [CATALOG[b["name"]].title if b.get("name") in CATALOG else str(b.get("name")) for b in blocks]


def compact_json(blocks):
    return json.dumps(blocks, ensure_ascii=False, separators=(",", ":"))


def fragment(blocks):
    """<shadowbot id="blocks" ...>{"version":"1.0.1","contentType":1,"data":base64(JSON)}</shadowbot>"""
    data = base64.b64encode(compact_json(blocks).encode("utf-8")).decode("ascii")
    return FRAGMENT_OPEN + '{"version":"1.0.1","contentType":1,"data":"%s"}' % data + FRAGMENT_CLOSE


def decode_fragment(html):
    """The blocks inside the first <shadowbot id="blocks"> element of an HTML text."""
    match = re.search(re.escape(FRAGMENT_OPEN) + r"(.*?)" + re.escape(FRAGMENT_CLOSE), html, re.S)
    if not match:
        raise ValueError('no <shadowbot id="blocks"> element')
    wrapper = json.loads(match.group(1))
    if wrapper.get("version") != "1.0.1" or wrapper.get("contentType") != 1:
        raise ValueError("unexpected wrapper %r" % dict((k, v) for k, v in wrapper.items() if k != "data"))
    return json.loads(base64.b64decode(wrapper["data"]).decode("utf-8"))


def dump_json(value):
    return json.dumps(value, ensure_ascii=False, indent=2) + "\n"


_PAGE = """<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>影刀流程模板:{title}({name})</title>
<style>
body {{ font-family: "Microsoft YaHei", sans-serif; max-width: 46em; margin: 2em auto; line-height: 1.7; padding: 0 1em; }}
button {{ font-size: 1.1em; padding: .4em 1.4em; cursor: pointer; }}
#status {{ margin-left: 1em; font-weight: bold; }}
</style>
</head>
<body>
<h1>{title}<small>({name})</small></h1>
<p>{summary}</p>
<ol>
<li>点下面的按钮,把这 {count} 个指令复制到剪贴板(请用 Chrome 或 Edge 打开本页)。</li>
<li>在影刀里打开一个<b>空白的可视化流程</b>,点一下编辑区,按 <b>Ctrl+V</b>。</li>
<li>粘贴前请先把 dist/coze.py 粘贴成应用里名为 <b>coze</b> 的 Python 模块,并建好全局变量 coze_token(密码类型)和 coze_bot_id。</li>
</ol>
<p><button id="copy" type="button">复制到剪贴板</button><span id="status"></span></p>
<p>网页只能放入 HTML 格式,影刀能否只凭它粘贴尚未证实。粘贴不成功?在这台电脑上运行 <code>python build.py copy {name}</code>(写入影刀自己的剪贴板格式,首选),或按 docs/templates.md 里本模板的「手动搭建」一步一步拖指令,效果一样。每次复制都会给指令换新的 id,同一个模板可以粘贴多次。</p>
<p>指令:{block_titles}</p>
{fragment}
<script>
(function () {{
  var TITLES = {titles_json};
  function newId() {{
    if (window.crypto && window.crypto.randomUUID) {{ return window.crypto.randomUUID(); }}
    return "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, function (c) {{
      var r = Math.random() * 16 | 0;
      return (c === "x" ? r : (r & 3 | 8)).toString(16);
    }});
  }}
  function fromBase64(s) {{
    var bin = atob(s), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) {{ bytes[i] = bin.charCodeAt(i); }}
    return new TextDecoder("utf-8").decode(bytes);
  }}
  function toBase64(s) {{
    var bytes = new TextEncoder().encode(s), bin = "";
    for (var i = 0; i < bytes.length; i++) {{ bin += String.fromCharCode(bytes[i]); }}
    return btoa(bin);
  }}
  function freshFragment() {{
    var element = document.getElementById("blocks");
    try {{
      var wrapper = JSON.parse(element.textContent);
      var blocks = JSON.parse(fromBase64(wrapper.data));
      blocks.forEach(function (block) {{ block.id = newId(); }});
      wrapper.data = toBase64(JSON.stringify(blocks));
      return '<shadowbot id="blocks" style="display:none">' + JSON.stringify(wrapper) + "</shadowbot>";
    }} catch (e) {{
      return element.outerHTML;
    }}
  }}
  document.getElementById("copy").onclick = function () {{
    var html = freshFragment(), copied = false;
    function onCopy(event) {{
      event.clipboardData.setData("text/html", html);
      event.clipboardData.setData("text/plain", TITLES);
      event.preventDefault();
      copied = true;
    }}
    document.addEventListener("copy", onCopy);
    try {{ document.execCommand("copy"); }} finally {{ document.removeEventListener("copy", onCopy); }}
    document.getElementById("status").textContent = copied
      ? "已复制:到影刀空白流程里按 Ctrl+V"
      : "复制失败:请换 Chrome / Edge,或在 Windows 上运行 python build.py copy {name}";
  }};
}})();
</script>
</body>
</html>
"""


def html_page(template, blocks):
    """dist/templates/<name>.html: a page with the hidden clipboard fragment and a copy button."""
    names = titles(blocks)
    escape = htmllib.escape
    return _PAGE.format(title=escape(template.title), name=escape(template.name), summary=escape(template.summary),
                        count=len(blocks), block_titles=escape(" → ".join(names)), fragment=fragment(blocks),
                        titles_json=json.dumps("\r\n".join(names)))


# ---- manual recipe (Markdown) ------------------------------------------------------------

def describe_value(value):
    if value is None:
        return "(留空)"
    kind, body = value[:2], value[3:]
    if kind == "10":
        return "`%s`" % body if body else "(空文本)"
    if kind == "11":
        return "变量 `%s`" % body
    if kind == "13":
        return "Python 表达式 `%s`" % body
    if kind == "15":
        return "文本:" + "".join(describe_value(piece) for piece in json.loads(body))
    if kind == "16":
        return "`%s`" % body
    return "`%s`" % value


def _recipe_lines(spec, definition):
    lines = []
    if spec.name == "process.invoke_module":
        lines.append("模块名称:`%s`;方法名称:`%s`" % (spec.inputs["module"][0][3:], spec.inputs["function"][3:]))
        params = json.loads(spec.inputs["params"][3:])
        if params:
            lines.append("参数(逐个添加):" + ";".join(
                "`%s` = %s" % (name, describe_value(value)) for item in params for name, value in item.items()))
        else:
            lines.append("参数:不填")
    else:
        for item in definition.inputs:
            if item.name not in spec.inputs:
                continue
            given = spec.inputs[item.name]
            value = given[0] if isinstance(given, tuple) else given
            if value == "10:" and not item.required and item.name != "value":
                continue  # an empty optional field: leave it blank
            if item.options and value and value[3:] in item.options:
                shown = "「%s」" % item.options[value[3:]]
            else:
                shown = describe_value(value)
            lines.append("%s:%s" % (item.label or item.name, shown))
    for output in definition.outputs:
        if spec.outputs.get(output.id):
            lines.append("%s:`%s`" % (output.caption, spec.outputs[output.id]))
    if spec.retry:
        lines.append("「异常处理」:处理方式选「重试」,重试 %d 次,间隔 %d 秒" % spec.retry)
    if spec.note:
        lines.append("说明:" + spec.note)
    return lines


def recipe_markdown(template):
    """Block-by-block instructions that need no paste at all."""
    out = []
    if template.parameters:
        out.append("流程参数(只在把模板当子流程用时需要建;粘贴版本用开头的「设置变量」代替输入参数):")
        out.append("")
        out.append("| 名称 | 方向 | 类型 | 默认值 | 说明 |")
        out.append("|---|---|---|---|---|")
        for p in template.parameters:
            default = ("`%s`" % p.value) if p.value else "(空)"
            if p.kind == "Expression":
                default += "(表达式)"
            out.append("| `%s` | %s | %s | %s | %s |" % (p.name, "输入" if p.direction == "In" else "输出",
                                                        p.type, default, p.description))
        out.append("")
    out.append("指令(按顺序添加;缩进的指令放在上一层的循环 / IF / Try 里面):")
    out.append("")
    depth = 0
    for number, spec in enumerate(template.clipboard_specs(), 1):
        definition = CATALOG[spec.name]
        if definition.role in (CLOSE_IF, CLOSE_LOOP, CLOSE_TRY, MIDDLE_IF, CATCH, FINALLY):
            depth -= 1
        indent = "  " * depth
        head = "%s- **%d. %s**(`%s`)" % (indent, number, definition.title, spec.name)
        if definition.role in (CLOSE_IF, CLOSE_LOOP, CLOSE_TRY):
            head += ":结束标记,拖入容器指令时影刀一般会自动带上,已有就不用再加"
        out.append(head)
        for line in _recipe_lines(spec, definition):
            out.append("%s  - %s" % (indent, line))
        if definition.role in (OPEN_IF, OPEN_LOOP, OPEN_TRY, MIDDLE_IF, CATCH, FINALLY):
            depth += 1
    return "\n".join(out) + "\n"
