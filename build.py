"""Build the pasteable module and the flow templates.

    python build.py              write dist/coze.py and the flow templates
    python build.py check        exit 1 if the committed files differ from a fresh build
    python build.py copy NAME    put a flow template on the Windows clipboard

dist/coze.py is the ShadowBot header followed by the modules in DIST_MODULES, each under
a banner, with package-relative imports removed and standard-library imports gathered at
the top (after the header, which ShadowBot expects first). See docs/architecture.md.
"""
import ast
import os
import re
import sys
import unicodedata

import privatize

ROOT = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(ROOT, "yingdao_module")
DIST = os.path.join(ROOT, "dist", "coze.py")
PACKAGE = "yingdao_module"

# (module, section title) in dependency order
DIST_MODULES = [
    ("log", "Logging and redaction"),
    ("errors", "Errors"),
    ("config", "Configuration and input checks"),
    ("rsa_sign", "RSA keys and RS256 signatures"),
    ("sse", "Server-sent events"),
    ("policy", "Timeouts and retry policy"),
    ("http_response", "HTTP responses read within the deadline"),
    ("http_connect", "HTTP connections opened within the deadline"),
    ("http_backends", "HTTP backends, requests"),
    ("http_stdlib", "HTTP backend, standard library (kept alive)"),
    ("transport", "Coze transport: envelope, auth header, retries"),
    ("auth", "Sign-in: static token or OAuth JWT service app"),
    ("files", "Files"),
    ("polling", "When to check a non-stream chat"),
    ("app_flows", "The flows of the ShadowBot app (package.json)"),
    ("tools", "Local tools (端插件)"),
    ("chat_state", "What a chat has told us (ChatState)"),
    ("chat_request", "What a chat sends (bots and chatflows)"),
    ("chat_find", "A chat found in its conversation"),
    ("chat_run", "One chat in flight: stream, poll, tools, cancel"),
    ("client", "Chat client"),
    ("workflow", "Workflows"),
    ("ratelimit", "Rate limits"),
    ("account_limits", "Account caps (qps auto), shard shares"),
    ("xlsx_package", "xlsx packages: bounded parts, safe XML"),
    ("xlsx_read", "xlsx sheets read as a stream, as shown"),
    ("xlsx_write", "xlsx copies with new cells spliced in"),
    ("tables", "Spreadsheets (CSV / xlsx)"),
    ("filelock", "File locks between processes"),
    ("journal", "Batch journal"),
    ("batch_options", "Batch options"),
    ("report", "Batch report (HTML)"),
    ("shell_quote", "Quoting commands for bash, cmd and PowerShell"),
    ("resume", "The command that continues a batch run"),
    ("row_files", "Files in: each row's files"),
    ("downloads", "Files out: answers' links saved"),
    ("batch_plan", "Batch planning"),
    ("answer_cache", "Answer cache (cache=True)"),
    ("batch_ask", "Batch asking: one chat per row"),
    ("batch_workflow", "Batch rows through a workflow"),
    ("review", "Review (review=True): rejected rows"),
    ("batch_output", "Batch output: table, report, summary"),
    ("estimate", "Estimate (estimate=True)"),
    ("batch", "Batch engine: batch() and the run loop"),
    ("merge", "Merging shard outputs"),
    ("api", "Module-level shortcuts (调用模块)"),
    ("shadowbot", "ShadowBot Code flow: main(args)"),
    ("command_line", "Command line, only when run as a script"),
]

BANNER = "#" * 79
MAX_LINE = 120  # ShadowBot's editor shows about this much without scrolling (tests/test_code_shape.py checks)
CONTENTS_MARK = "# @contents@"
INTRO = '''"""扣子(Coze)智能体与工作流,给影刀 RPA 用的一个文件。版本 {version}。

把本文件整个粘贴成影刀应用里名为 coze 的 Python 模块,然后三种用法任选:

1. 可视化流程拖「调用模块」:模块选 coze,函数选 {functions} 之一,
   按参数名填值(每个函数的说明写在它的文档里),输出变量就是回答 / 结果。
2. Code 流程:流程输入参数放 question(或 workflow_id、parameters 等),
   本模块的 main(args) 把 answer、conversation_id、error 写回输出参数。
3. 在别的 Python 模块里:from .coze import ask,然后 ask("你好")。

令牌和智能体 ID 建议放在全局变量 coze_token(密码类型)和 coze_bot_id 里。
说明文档在项目的 README.md 与 docs/:quickstart.md(上手)、reference.md(每个函数和参数)、
errors.md(错误码与处理)、batch.md(表格批处理)、templates.md(现成流程)。

本文件由 build.py 从 yingdao_module/ 生成,请改源码而不是这个文件。只用标准库(装了 requests 就用它),Python 3.7+。
"""'''


BuildError = privatize.BuildError


def read(name, source=SOURCE):
    path = os.path.join(source, name + ".py")
    if not os.path.exists(path):
        raise BuildError("缺少 %s:它列在 build.DIST_MODULES 里,请补上或从列表里删掉" % os.path.relpath(path, ROOT))
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    try:
        ast.parse(text)
    except SyntaxError as err:
        raise BuildError("%s 第 %s 行语法错误:%s" % (os.path.relpath(path, ROOT), err.lineno, err.msg))
    return text


def package_facts(source=SOURCE):
    """(__version__, __all__) of the package: __all__ in yingdao_module/__init__.py is the one list
    of public names (build keeps exactly these public in dist/coze.py and makes the rest private)."""
    facts = {}
    for node in ast.parse(read("__init__", source)).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            facts[node.targets[0].id] = node.value
    if "__all__" not in facts or "__version__" not in facts:
        raise BuildError("yingdao_module/__init__.py 需要 __version__ 和 __all__(公开名字的唯一清单)")
    return ast.literal_eval(facts["__version__"]), list(ast.literal_eval(facts["__all__"]))


def version():
    return package_facts()[0]


def check_inlinable(node, name, allowed, lines):
    """BuildError unless this package import is `from .module import a, b` of a dist module."""
    where = "yingdao_module/%s.py 第 %d 行「%s」" % (name, node.lineno, lines[node.lineno - 1].strip())
    if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module in allowed:
        aliased = [alias.name for alias in node.names if alias.asname or alias.name == "*"]
        if not aliased:
            return
        raise BuildError("%s:from .%s import 不能用别名或 *(%s):dist/coze.py 只有一个平铺的命名空间"
                         % (where, node.module, ", ".join(aliased)))
    if isinstance(node, ast.ImportFrom) and node.level and node.module in allowed:
        raise BuildError("%s:相对导入只能写成 from .%s import ..." % (where, node.module))
    raise BuildError("%s 无法拼进 dist/coze.py:dist 模块只能写 from .模块 import 名字,"
                     "模块必须在 DIST_MODULES 里(可用:%s)" % (where, ", ".join(sorted(allowed))))


def is_package_import(node):
    """`import yingdao_module.x`, `from yingdao_module import x`, `from . import x`, `from .a.b import c`..."""
    if isinstance(node, ast.ImportFrom):
        return node.level > 0 or (node.module or "").split(".")[0] == PACKAGE
    return isinstance(node, ast.Import) and any(alias.name.split(".")[0] == PACKAGE for alias in node.names)


def split_module(source, name, allowed):
    """(docstring, stdlib import lines, body lines) of one module, package imports dropped.
    `allowed` are the modules a dist module may import from (the others in the dist, the header)."""
    tree = ast.parse(source)
    lines = source.splitlines()
    top = set(id(node) for node in tree.body)
    for node in ast.walk(tree):
        if is_package_import(node):
            if id(node) not in top:
                raise BuildError("yingdao_module/%s.py 第 %d 行:包内导入只能写在文件顶层" % (name, node.lineno))
            check_inlinable(node, name, allowed, lines)
    drop, imports, docstring = set(), [], ""
    for node in tree.body:
        span = range(node.lineno - 1, node.end_lineno)
        if node is tree.body[0] and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) \
                and isinstance(node.value.value, str):
            docstring = node.value.value
            drop.update(span)
        elif is_package_import(node):
            drop.update(span)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            imports.extend(lines[i] for i in span)
            drop.update(span)
    body = [line for i, line in enumerate(lines) if i not in drop]
    while body and not body[0].strip():
        body.pop(0)
    return docstring, imports, body


def top_level_names(source):
    """Names a module defines at top level (not those it imports)."""
    module = privatize.Names(ast.parse(source)).module
    return module.bound - module.imported


def display_width(text):
    """Columns `text` takes in an editor: CJK and other wide characters count 2."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def padded(left, right, width=79, fill=" "):
    """left + fill + right, `width` columns wide by display width (at least one fill)."""
    return left + fill * max(1, width - display_width(left) - display_width(right)) + right


def wrapped(lines, width=MAX_LINE - 2):
    """Docstring lines that become comments, a long one wrapped at spaces to fit the editor."""
    import textwrap
    out = []
    for line in lines:
        indent = line[:len(line) - len(line.lstrip())]
        out += textwrap.wrap(line, width, subsequent_indent=indent, break_long_words=False) if len(line) > width else [line]
    return out


def banner(name, title):
    return "\n".join([BANNER, padded("# %s" % title, "(yingdao_module/%s.py)" % name), BANNER])


def exports_line(public):
    """__all__ = [...], wrapped under MAX_LINE."""
    lines, line = [], "__all__ = ["
    for index, name in enumerate(public):
        item = '"%s"' % name + (", " if index < len(public) - 1 else "]")
        if display_width(line + item.rstrip()) > MAX_LINE:
            lines.append(line.rstrip())
            line = "           "
        line += item
    return "\n".join(lines + [line])


def contents_entries(public, modules):
    """How many lines the contents block takes: a heading, one line per public name, a heading and one
    line per section."""
    return 2 + len(public) + 2 + len(modules)


def fill_contents(text, public, modules):
    """Replace CONTENTS_MARK with the contents list: each public function and class with its line and
    section, then each section with its line (line numbers of the finished file)."""
    lines = text.split("\n")
    mark = lines.index(CONTENTS_MARK)
    shift = contents_entries(public, modules) - 1
    titles = dict((name, title) for name, title in modules)
    sections, where = [], {}
    current = None
    for number, line in enumerate(lines, 1):
        found = re.match(r"# .*\(yingdao_module/(\w+)\.py\)$", line)
        if found and lines[number - 2] == BANNER:
            current = found.group(1)
            sections.append((current, number - 1 + shift))
        found = re.match(r"(?:def|class) (\w+)\b", line)
        if found and found.group(1) in public and found.group(1) not in where:
            where[found.group(1)] = (number + shift, current)
    block = ["# 目录 / Contents:公开的函数和类(调用模块里能选的)、所在行和段落", "#"]
    for name in public:
        number, section = where.get(name, (0, None))
        block.append(padded("#   %s " % name, "", 30, ".") + " 第 %5d 行  %s" % (number, titles.get(section, "")))
    block += ["#", "# 段落 / Sections:"]
    for section, number in sections:
        block.append(padded("#   %s " % titles[section], "", 64, ".") + " 第 %5d 行  yingdao_module/%s.py" % (number, section))
    return "\n".join(lines[:mark] + block + lines[mark + 1:])


def split_header(text):
    """(the comment block ShadowBot expects first, the code after it)."""
    lines = text.rstrip().splitlines()
    comments = 0
    while comments < len(lines) and (lines[comments].startswith("#") or not lines[comments].strip()):
        comments += 1
    return "\n".join(lines[:comments]).rstrip(), "\n".join(lines[comments:])


def build_dist(source=SOURCE, modules=None):
    """The text of dist/coze.py."""
    modules = DIST_MODULES if modules is None else modules
    allowed = set(name for name, _ in modules) | {"header"}
    release, public = package_facts(source)
    seen = {}
    sections, all_imports = [], []
    for name, title in modules:
        text = read(name, source)
        for defined in top_level_names(text):
            if defined in seen:
                raise BuildError("%r 同时定义在 %s.py 和 %s.py 里:dist 是一个命名空间,请改名其一" % (defined, seen[defined], name))
            seen[defined] = name
        docstring, imports, body = split_module(text, name, allowed - {name})
        all_imports.extend(line for line in imports if line not in all_imports)
        comment = "\n".join(("# " + line).rstrip() for line in wrapped(docstring.strip().splitlines()))
        sections.append("\n".join([banner(name, title), comment, "", "\n".join(body).rstrip(), ""]))
    header_text = read("header", source)
    comments, header_code = split_header(header_text)
    functions = "、".join(name for name in public if seen.get(name) and not name[0].isupper())
    exports = exports_line(public)
    parts = [comments, INTRO.format(version=release, functions=functions), CONTENTS_MARK, "", header_code, "",
             "\n".join(all_imports), "", "__version__ = \"%s\"" % release, exports, ""]
    parts.extend(sections)
    text = "\n".join(parts).rstrip() + "\n"
    ast.parse(text, feature_version=(3, 7))  # what ShadowBot's Python 3.7 must accept
    keep = top_level_names(header_text)  # the ShadowBot header's own names (xbot, glv, print...)
    text = privatize.privatize(text, public, keep)
    privatize.check_names(text, public, keep)
    return fill_contents(text, public, modules)


def write_if_changed(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    old = None
    if os.path.exists(path):
        with open(path, encoding="utf-8", newline="") as handle:
            old = handle.read()
    if old != text:
        with open(path, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
    return old != text


def build_templates():
    sys.path.insert(0, ROOT)
    try:
        from flow_templates import build_templates as generate
    except ImportError:
        return []
    return generate(ROOT)


def main(argv):
    command = argv[0] if argv else "build"
    if command == "copy":
        sys.path.insert(0, ROOT)
        from flow_templates import copy_template
        return copy_template(argv[1] if len(argv) > 1 else "ask_once") or 0
    try:
        text = build_dist()
    except BuildError as err:
        print("build: 错误:%s" % err)
        return 1
    if command == "check":
        with open(DIST, encoding="utf-8", newline="") as handle:
            stale = [] if handle.read() == text else [DIST]
        sys.path.insert(0, ROOT)
        from flow_templates import check_templates
        stale += check_templates(ROOT)
        if stale:
            print("这些文件与源码不一致,请运行 python build.py 并提交结果:")
            for path in stale:
                print("  " + os.path.relpath(path, ROOT))
            return 1
        print("dist/coze.py 和流程模板与源码一致")
        return 0
    changed = write_if_changed(DIST, text)
    print("%s dist/coze.py (%d 行)" % ("写入" if changed else "未变", text.count("\n")))
    for path in build_templates():
        print("写入 %s" % os.path.relpath(path, ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
