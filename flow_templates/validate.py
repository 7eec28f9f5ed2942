"""Check generated blocks and flows against what we know of ShadowBot (catalog.py) and of the
coze module (dist/coze.py). Every check returns a list of problems (Chinese-free, for tests and
build output); an empty list means the template passed.
"""
import ast
import builtins
import json
import keyword
import re
import uuid

from .blocks import MODULE
from .catalog import (CATALOG, CATCH, CLOSE_IF, COMMENTS, CLOSE_LOOP, CLOSE_TRY, FINALLY, FOLDABLE, LOOP_CONTROL,
                      MIDDLE_IF, OPEN_IF, OPEN_LOOP, OPEN_TRY, RUNTIME_NAMES, VALUE_KINDS, VARIABLE_TYPES)
from .render import decode_fragment

BUILTIN_NAMES = frozenset(dir(builtins))
PARAMETER_TYPES = ("any", "int", "float", "bool", "str", "list", "dict", "file", "directory", "password",
                   "bytes", "datetime")  # ShadowBot's built-in types (Zh_CN_buildin_types_json)
RETRY_MODES = ("retry",)


def is_identifier(name):
    return isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name)


def parse_expression(code):
    """The expression's AST, parsed with Python 3.7's grammar (ShadowBot 5.x runs 3.7)."""
    try:
        return ast.parse(code, mode="eval", feature_version=(3, 7))
    except TypeError:  # Python < 3.8 has no feature_version
        return ast.parse(code, mode="eval")


def names_read(code):
    """Free variable names an expression reads (builtins and ShadowBot's runtime names excluded)."""
    tree = parse_expression(code)
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.comprehension):
            bound.update(n.id for n in ast.walk(node.target) if isinstance(n, ast.Name))
        elif isinstance(node, ast.Lambda):
            args = node.args
            bound.update(a.arg for a in args.args + args.kwonlyargs)
            bound.update(a.arg for a in (args.vararg, args.kwarg) if a is not None)
    names = set(n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load))
    return names - bound - BUILTIN_NAMES - RUNTIME_NAMES


def value_problems(value, where):
    """(problems, names read) for one prefixed input value."""
    if value is None:
        return [], set()
    if not isinstance(value, str) or len(value) < 3 or value[2] != ":" or value[:2] not in VALUE_KINDS:
        return ["%s: value %r has no valid kind prefix (%s)" % (where, value, "/".join(k + ":" for k in VALUE_KINDS))], set()
    kind, body = value[:2], value[3:]
    try:
        if kind in ("11", "13"):
            if not body.strip():
                return ["%s: empty %s value" % (where, VALUE_KINDS[kind])], set()
            return [], names_read(body)
        if kind == "15":
            return template_text_problems(body, where)
        if kind == "16":
            json.loads(body)
    except SyntaxError as err:
        return ["%s: %r is not a Python 3.7 expression (%s)" % (where, body, err.msg)], set()
    except ValueError as err:
        return ["%s: %r is not JSON (%s)" % (where, body, err)], set()
    return [], set()


def template_text_problems(body, where):
    """15: is a JSON list of prefixed pieces (text, variable, expression), as real flows store it."""
    try:
        pieces = json.loads(body)
    except ValueError:
        pieces = None
    if not isinstance(pieces, list) or not pieces or not all(isinstance(p, str) for p in pieces):
        return ["%s: a 15: value must be a JSON list of prefixed pieces like [\"10:你好 \",\"11:name\"], got %r"
                % (where, body)], set()
    problems, names = [], set()
    for number, piece in enumerate(pieces, 1):
        if piece[:3] not in ("10:", "11:", "13:"):
            problems.append("%s: piece %d %r of a 15: value needs a 10:/11:/13: prefix" % (where, number, piece))
            continue
        found, read = value_problems(piece, "%s piece %d" % (where, number))
        problems.extend(found)
        names |= read
    return problems, names


def invoke_params(value):
    """[(name, value)] of a 调用模块 params input (16: JSON list of one-key objects)."""
    if value is None or value == "16:[]":
        return []
    if not isinstance(value, str) or not value.startswith("16:"):
        raise ValueError("params must be a 16: JSON list, got %r" % (value,))
    items = json.loads(value[3:])
    if not isinstance(items, list) or not all(isinstance(i, dict) and len(i) == 1 for i in items):
        raise ValueError("params must be a list of one-key objects, got %r" % (items,))
    return [next(iter(i.items())) for i in items]


def signature_problems(function, names, signature, where):
    problems = []
    params = signature.parameters
    takes_kwargs = any(p.kind == p.VAR_KEYWORD for p in params.values())
    keyword_ok = dict((n, p) for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
    for name in names:
        if name not in keyword_ok and not takes_kwargs:
            problems.append("%s: %s.%s() has no parameter %r (it takes %s)" % (
                where, MODULE, function, name, ", ".join(keyword_ok)))
    for name, p in keyword_ok.items():
        if p.default is p.empty and name not in names:
            problems.append("%s: %s.%s() needs parameter %r" % (where, MODULE, function, name))
    return problems


def check_blocks(blocks, form, predefined=(), signatures=None):
    """Problems in a list of blocks. form: "clipboard" (each block has "__kind__": 0) or "flow".
    predefined: variables that exist before the first block (the flow's parameters).
    signatures: {function name: inspect.Signature} of the coze module, or None to skip."""
    if not isinstance(blocks, list) or not blocks:
        return ["blocks must be a non-empty list"]
    problems = id_problems(blocks) + nesting_problems(blocks)
    defined = set(predefined)
    for index, block in enumerate(blocks):
        where = "block %d (%s)" % (index + 1, block.get("name"))
        problems += shape_problems(block, form, where)
        definition = CATALOG.get(block.get("name"))
        if definition is None:
            problems.append("%s: %r is not a ShadowBot block we know (flow_templates/catalog.py)" % (where, block.get("name")))
            continue
        found, reads = input_problems(block, definition, where, signatures)
        problems += found
        problems += fold_problems(block, definition, where)
        problems += handling_problems(block, where)
        problems += variable_block_problems(block, where)
        problems += ["%s: reads variable %r before any block sets it" % (where, name) for name in sorted(reads - defined)]
        found, written = output_problems(block, definition, where)
        problems += found
        defined |= written
    return problems


def id_problems(blocks):
    """Every block has a UUID id, and no two share one."""
    problems, seen = [], set()
    for index, block in enumerate(blocks):
        where, id_ = "block %d (%s)" % (index + 1, block.get("name")), block.get("id")
        try:
            uuid.UUID(str(id_))
        except ValueError:
            problems.append("%s: id %r is not a UUID" % (where, id_))
        if id_ in seen:
            problems.append("%s: duplicate id %s" % (where, id_))
        seen.add(id_)
    return problems


def shape_problems(block, form, where):
    """The keys real blocks have: __kind__ (clipboard only), isEnabled, and a comment exactly
    for the kinds of block real exports write one for."""
    problems = []
    if form == "clipboard" and block.get("__kind__") != 0:
        problems.append('%s: clipboard blocks need "__kind__": 0' % where)
    if form == "flow" and "__kind__" in block:
        problems.append('%s: flow files carry no "__kind__"' % where)
    if block.get("isEnabled") is not True:
        problems.append("%s: isEnabled must be true" % where)
    if block.get("name") in COMMENTS and not isinstance(block.get("comment"), str):
        problems.append('%s: real %s blocks carry a "comment"' % (where, block.get("name")))
    if block.get("name") not in COMMENTS and "comment" in block:
        problems.append('%s: real %s blocks carry no "comment" key' % (where, block.get("name")))
    return problems


def input_problems(block, definition, where, signatures):
    """(problems, variables read): known keys, required values, prefixes, select options, 调用模块."""
    problems, reads = [], set()
    inputs = block.get("inputs") or {}
    known = dict((i.name, i) for i in definition.inputs)
    problems += ["%s: unknown input %r" % (where, key) for key in inputs if key not in known]
    for key, item in known.items():
        entry = inputs.get(key)
        value = entry.get("value") if isinstance(entry, dict) else None
        if item.required and value is None:
            problems.append("%s: required input %r is missing" % (where, key))
        elif item.required and value == "10:":
            problems.append("%s: required input %r is empty" % (where, key))
        found, names = value_problems(value, "%s input %r" % (where, key))
        problems += found
        reads |= names
        if item.options and isinstance(value, str) and value.startswith("10:") and value[3:] not in item.options:
            problems.append("%s: input %r = %r is not one of %s" % (where, key, value[3:], ", ".join(item.options)))
    if definition.name == "process.invoke_module":
        found, names = invoke_problems(inputs, where, signatures)
        problems += found
        reads |= names
    return problems, reads


def fold_problems(block, definition, where):
    """Containers (if, loops, try, catch) carry "foldState": "UnFold" as real flows do."""
    if definition.role in FOLDABLE and block.get("foldState") != "UnFold":
        return ['%s: %s needs "foldState": "UnFold"' % (where, definition.name)]
    return []


def handling_problems(block, where):
    handling = block.get("exception_handling")
    if handling is None:
        return []
    if handling.get("mode") not in RETRY_MODES or not isinstance(handling.get("retryTime"), int) \
            or handling["retryTime"] < 1 or not isinstance(handling.get("retryInterval"), int) \
            or handling["retryInterval"] < 0 or not isinstance(handling.get("logging"), bool):
        return ["%s: bad exception_handling %r" % (where, handling)]
    return []


# the type an expression evidently has, from its outermost node
EVIDENT_TYPES = ((ast.Dict, "dict"), (ast.DictComp, "dict"), (ast.List, "list"), (ast.ListComp, "list"))


def evident_type(value):
    """The type a 10:/13: value evidently has (str, int, dict, list), or None when it cannot be told."""
    kind, body = value[:3], value[3:]
    if kind == "10:":
        return None  # text typed into the field: ShadowBot converts it to the chosen type
    if kind != "13:":
        return None
    node = parse_expression(body).body
    for node_type, name in EVIDENT_TYPES:
        if isinstance(node, node_type):
            return name
    if isinstance(node, ast.Constant) and type(node.value) in (str, int):
        return type(node.value).__name__
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant) \
            and isinstance(node.left.value, str):
        return "str"
    return None


def variable_block_problems(block, where):
    """设置变量: value_type "10:<type>" (never null) equals the output's type and label, and fits the value."""
    if block.get("name") != "programing.variable":
        return []
    value_type = ((block.get("inputs") or {}).get("value_type") or {}).get("value")
    output = (block.get("outputs") or {}).get("variable") or {}
    if not isinstance(value_type, str) or not value_type.startswith("10:") or value_type[3:] not in VARIABLE_TYPES:
        return ['%s: value_type must be "10:<type>" with a type of %s, got %r'
                % (where, ", ".join(VARIABLE_TYPES), value_type)]
    type_ = value_type[3:]
    problems = []
    if output.get("type") != type_ or output.get("variableLabel") != VARIABLE_TYPES[type_]:
        problems.append("%s: value_type %s but the output says type %r, label %r" % (
            where, type_, output.get("type"), output.get("variableLabel")))
    value = ((block.get("inputs") or {}).get("value") or {}).get("value")
    try:
        evident = evident_type(value) if isinstance(value, str) else None
    except SyntaxError:
        evident = None  # reported by input_problems
    if evident and evident != type_:
        problems.append("%s: the value is a %s but value_type says %s" % (where, evident, type_))
    return problems


def output_problems(block, definition, where):
    """(problems, variables set): outputs keyed by id, each with isEnable and a valid name."""
    problems, written = [], set()
    output_ids = set(o.id for o in definition.outputs)
    for key, entry in (block.get("outputs") or {}).items():
        if key not in output_ids:
            problems.append("%s: unknown output %r (outputs are keyed by id: %s)" % (
                where, key, ", ".join(sorted(output_ids)) or "none"))
            continue
        if not isinstance(entry.get("isEnable"), bool):
            problems.append("%s: output %r needs isEnable true/false" % (where, key))
        problems += output_key_problems(entry, [o for o in definition.outputs if o.id == key][0], block, where)
        if entry.get("isEnable"):
            if is_identifier(entry.get("name")):
                written.add(entry["name"])
            else:
                problems.append("%s: output %r variable name %r is not a valid name" % (where, key, entry.get("name")))
    return problems, written


def output_key_problems(entry, output, block, where):
    """An output writes variableLabel and type exactly when real exports of the block do."""
    if block.get("name") == "programing.variable":
        return []  # its type follows value_type (variable_block_problems)
    problems = []
    for key, expected in (("variableLabel", output.label), ("type", output.type)):
        if expected is None and key in entry:
            problems.append("%s: output %r carries no %s in real exports" % (where, output.id, key))
        elif expected is not None and entry.get(key) != expected:
            problems.append("%s: output %r %s should be %r, got %r" % (where, output.id, key, expected, entry.get(key)))
    return problems


CLOSES = {CLOSE_IF: OPEN_IF, CLOSE_LOOP: OPEN_LOOP, CLOSE_TRY: OPEN_TRY}


def nesting_problems(blocks):
    """Containers open and close in order: IF … End IF, loops … End Loop, Try … Catch … End Try."""
    problems = []
    stack = []  # [role, name, number, roles seen inside (catch / finally)]
    for index, block in enumerate(blocks):
        definition = CATALOG.get(block.get("name"))
        if definition is None:
            continue
        where, role, name = "block %d (%s)" % (index + 1, definition.name), definition.role, definition.name
        if role in (OPEN_IF, OPEN_LOOP, OPEN_TRY):
            stack.append([role, name, index + 1, set()])
        elif role == MIDDLE_IF and (not stack or stack[-1][0] != OPEN_IF):
            problems.append("%s: %s outside an IF" % (where, name))
        elif role in (CATCH, FINALLY):
            if not stack or stack[-1][0] != OPEN_TRY:
                problems.append("%s: %s outside a Try" % (where, name))
            elif role == CATCH and FINALLY in stack[-1][3]:
                problems.append("%s: Catch after Finally" % where)
            else:
                stack[-1][3].add(role)
        elif role in CLOSES:
            if not stack:
                problems.append("%s: %s closes nothing" % (where, name))
            elif stack[-1][0] != CLOSES[role]:
                problems.append("%s: %s closes %s (block %d), which is still open: wrong nesting" % (
                    where, name, stack[-1][1], stack[-1][2]))
            else:
                opened = stack.pop()
                if role == CLOSE_TRY and not opened[3]:
                    problems.append("%s: Try (block %d) has no Catch or Finally" % (where, opened[2]))
        elif role == LOOP_CONTROL and not any(entry[0] == OPEN_LOOP for entry in stack):
            problems.append("%s: %s outside a loop" % (where, name))
    problems += ["block %d (%s) is never closed" % (number, name) for _, name, number, _ in stack]
    return problems


def invoke_problems(inputs, where, signatures):
    problems, reads = [], set()
    module = (inputs.get("module") or {}).get("value")
    function = (inputs.get("function") or {}).get("value")
    if module != "10:" + MODULE:
        problems.append("%s: module must be 10:%s, got %r" % (where, MODULE, module))
    if not isinstance(function, str) or not function.startswith("10:") or not is_identifier(function[3:]):
        problems.append("%s: function must be 10:<name>, got %r" % (where, function))
        return problems, reads
    function = function[3:]
    try:
        params = invoke_params((inputs.get("params") or {}).get("value"))
    except ValueError as err:
        return problems + ["%s: %s" % (where, err)], reads
    names = [n for n, _ in params]
    for name in names:
        if not is_identifier(name):
            problems.append("%s: parameter name %r is not a valid name" % (where, name))
    if len(set(names)) != len(names):
        problems.append("%s: a parameter is given twice: %s" % (where, names))
    for name, value in params:
        if value is None:
            problems.append("%s: parameter %r has no value" % (where, name))
            continue
        found, used = value_problems(value, "%s parameter %r" % (where, name))
        problems.extend(found)
        reads |= used
    if signatures is not None:
        if function not in signatures:
            problems.append("%s: %s has no function %r (it has %s)" % (where, MODULE, function, ", ".join(sorted(signatures))))
        else:
            problems.extend(signature_problems(function, names, signatures[function], where))
    return problems, reads


def check_flow(flow, signatures=None, module_io=None):
    """Problems in a .flow.json document. module_io: (names main(args) reads, names it writes)."""
    problems = []
    for key in ("name", "memo", "kind", "blocks", "parameters"):
        if key not in flow:
            problems.append("flow has no %r" % key)
    if flow.get("kind") != "visual":
        problems.append('flow kind must be "visual"')
    parameters = flow.get("parameters") or []
    names = [p.get("name") for p in parameters]
    if len(set(names)) != len(names):
        problems.append("duplicate flow parameter in %s" % names)
    for p in parameters:
        where = "parameter %r" % p.get("name")
        if set(p) != set(["name", "direction", "type", "value", "description", "kind"]):
            problems.append("%s: keys must be name, direction, type, value, description, kind" % where)
        if not is_identifier(p.get("name")):
            problems.append("%s: not a valid variable name" % where)
        if p.get("direction") not in ("In", "Out"):
            problems.append("%s: direction must be In or Out" % where)
        if p.get("type") not in PARAMETER_TYPES:
            problems.append("%s: type %r is not a ShadowBot type" % (where, p.get("type")))
        if p.get("kind") not in ("Text", "Expression"):
            problems.append("%s: kind must be Text or Expression" % where)
        elif p["kind"] == "Expression":
            try:
                if names_read(p.get("value") or "None"):
                    problems.append("%s: default expression may not read variables" % where)
            except SyntaxError:
                problems.append("%s: default %r is not a Python expression" % (where, p.get("value")))
    blocks = flow.get("blocks") or []
    problems.extend(check_blocks(blocks, "flow", predefined=[n for n in names if n], signatures=signatures))
    read_anywhere, written = set(), set()
    for block in blocks:
        for entry in (block.get("inputs") or {}).values():
            value = entry.get("value") if isinstance(entry, dict) else None
            read_anywhere |= value_problems(value, "")[1]
        if block.get("name") == "process.invoke_module":
            read_anywhere |= invoke_problems(block.get("inputs") or {}, "", None)[1]
        for entry in (block.get("outputs") or {}).values():
            if entry.get("isEnable"):
                written.add(entry.get("name"))
    for p in parameters:
        if p.get("direction") == "In" and p.get("name") not in read_anywhere:
            problems.append("input parameter %r is never read by a block" % p.get("name"))
        if p.get("direction") == "Out" and p.get("name") not in written:
            problems.append("output parameter %r is never set by a block" % p.get("name"))
        if module_io is not None:
            reads, writes = module_io
            name = p.get("name")
            if p.get("direction") == "In" and name in writes and name not in reads:
                problems.append("parameter %r is an output of the coze module, not an input" % name)
            if p.get("direction") == "Out" and name in reads and name not in writes:
                problems.append("parameter %r is an input of the coze module, not an output" % name)
    return problems


def check_html(html, blocks):
    try:
        decoded = decode_fragment(html)
    except (ValueError, KeyError) as err:
        return ["HTML fragment: %s" % err]
    return [] if decoded == blocks else ["HTML fragment does not decode to the clipboard blocks"]


def check_pair(clipboard, flow):
    """The flow file holds the same blocks as the clipboard JSON, after the parameter stand-ins."""
    stripped = [dict((k, v) for k, v in b.items() if k != "__kind__") for b in clipboard]
    tail = stripped[len(stripped) - len(flow.get("blocks") or []):]
    if tail != flow.get("blocks"):
        return ["flow blocks differ from the clipboard blocks"]
    stand_ins = stripped[:len(stripped) - len(tail)]
    inputs = [p["name"] for p in flow.get("parameters") or [] if p.get("direction") == "In"]
    set_names = [b["outputs"]["variable"]["name"] for b in stand_ins if b["name"] == "programing.variable"]
    if set_names != inputs:
        return ["clipboard stand-ins %s do not match the input parameters %s" % (set_names, inputs)]
    return []


def check_template_files(clipboard, flow, html, signatures=None, module_io=None):
    """Everything about one template as written to disk."""
    problems = ["clipboard: " + p for p in check_blocks(clipboard, "clipboard", signatures=signatures)]
    problems += ["flow: " + p for p in check_flow(flow, signatures, module_io)]
    problems += check_html(html, clipboard)
    problems += check_pair(clipboard, flow)
    return problems
