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
from .catalog import (CATALOG, CATCH, CLOSE_IF, CLOSE_LOOP, CLOSE_TRY, FINALLY, LOOP_CONTROL, MIDDLE_IF,
                      OPEN_IF, OPEN_LOOP, OPEN_TRY, RUNTIME_NAMES, VALUE_KINDS)
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
            names = set()
            for part in re.findall(r"\{([^{}]+)\}", body):
                names |= names_read(part)
            return [], names
        if kind == "16":
            json.loads(body)
    except SyntaxError as err:
        return ["%s: %r is not a Python 3.7 expression (%s)" % (where, body, err.msg)], set()
    except ValueError as err:
        return ["%s: %r is not JSON (%s)" % (where, body, err)], set()
    return [], set()


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
    problems = []
    if not isinstance(blocks, list) or not blocks:
        return ["blocks must be a non-empty list"]
    seen_ids = set()
    stack = []  # [(role, name, index, seen catch/finally)]
    defined = set(predefined)
    for index, block in enumerate(blocks):
        name = block.get("name")
        where = "block %d (%s)" % (index + 1, name)
        # -- id, shape
        id_ = block.get("id")
        try:
            uuid.UUID(str(id_))
        except ValueError:
            problems.append("%s: id %r is not a UUID" % (where, id_))
        if id_ in seen_ids:
            problems.append("%s: duplicate id %s" % (where, id_))
        seen_ids.add(id_)
        if form == "clipboard" and block.get("__kind__") != 0:
            problems.append('%s: clipboard blocks need "__kind__": 0' % where)
        if form == "flow" and "__kind__" in block:
            problems.append('%s: flow files carry no "__kind__"' % where)
        if block.get("isEnabled") is not True:
            problems.append("%s: isEnabled must be true" % where)
        definition = CATALOG.get(name)
        if definition is None:
            problems.append("%s: %r is not a ShadowBot block we know (flow_templates/catalog.py)" % (where, name))
            continue
        # -- inputs
        inputs = block.get("inputs") or {}
        known = dict((i.name, i) for i in definition.inputs)
        for key in inputs:
            if key not in known:
                problems.append("%s: unknown input %r" % (where, key))
        reads = set()
        for key, item in known.items():
            entry = inputs.get(key)
            value = entry.get("value") if isinstance(entry, dict) else None
            if item.required and value is None:
                problems.append("%s: required input %r is missing" % (where, key))
            elif item.required and value == "10:":
                problems.append("%s: required input %r is empty" % (where, key))
            found, names = value_problems(value, "%s input %r" % (where, key))
            problems.extend(found)
            reads |= names
            if item.options and isinstance(value, str) and value.startswith("10:") and value[3:] not in item.options:
                problems.append("%s: input %r = %r is not one of %s" % (where, key, value[3:], ", ".join(item.options)))
        # -- 调用模块
        if name == "process.invoke_module":
            found, names = invoke_problems(inputs, where, signatures)
            problems.extend(found)
            reads |= names
        # -- exception handling
        handling = block.get("exception_handling")
        if handling is not None:
            if handling.get("mode") not in RETRY_MODES or not isinstance(handling.get("retryTime"), int) \
                    or handling["retryTime"] < 1 or not isinstance(handling.get("retryInterval"), int) \
                    or handling["retryInterval"] < 0 or not isinstance(handling.get("logging"), bool):
                problems.append("%s: bad exception_handling %r" % (where, handling))
        # -- variables read before they are set
        for variable in sorted(reads - defined):
            problems.append("%s: reads variable %r before any block sets it" % (where, variable))
        # -- outputs
        outputs = block.get("outputs") or {}
        output_ids = set(o.id for o in definition.outputs)
        for key, entry in outputs.items():
            if key not in output_ids:
                problems.append("%s: unknown output %r (outputs are keyed by id: %s)" % (where, key, ", ".join(sorted(output_ids)) or "none"))
                continue
            if not isinstance(entry.get("isEnable"), bool):
                problems.append("%s: output %r needs isEnable true/false" % (where, key))
            if entry.get("isEnable"):
                if not is_identifier(entry.get("name")):
                    problems.append("%s: output %r variable name %r is not a valid name" % (where, key, entry.get("name")))
                else:
                    defined.add(entry["name"])
        # -- containers
        role = definition.role
        if role in (OPEN_IF, OPEN_LOOP, OPEN_TRY):
            stack.append([role, name, index + 1, set()])
        elif role == MIDDLE_IF:
            if not stack or stack[-1][0] != OPEN_IF:
                problems.append("%s: %s outside an IF" % (where, name))
        elif role in (CATCH, FINALLY):
            if not stack or stack[-1][0] != OPEN_TRY:
                problems.append("%s: %s outside a Try" % (where, name))
            elif role == CATCH and FINALLY in stack[-1][3]:
                problems.append("%s: Catch after Finally" % where)
            else:
                stack[-1][3].add(role)
        elif role in (CLOSE_IF, CLOSE_LOOP, CLOSE_TRY):
            opener = {CLOSE_IF: OPEN_IF, CLOSE_LOOP: OPEN_LOOP, CLOSE_TRY: OPEN_TRY}[role]
            if not stack:
                problems.append("%s: %s closes nothing" % (where, name))
            elif stack[-1][0] != opener:
                problems.append("%s: %s closes %s (block %d), which is still open: wrong nesting" % (
                    where, name, stack[-1][1], stack[-1][2]))
            else:
                opened = stack.pop()
                if role == CLOSE_TRY and not opened[3]:
                    problems.append("%s: Try (block %d) has no Catch or Finally" % (where, opened[2]))
        elif role == LOOP_CONTROL:
            if not any(entry[0] == OPEN_LOOP for entry in stack):
                problems.append("%s: %s outside a loop" % (where, name))
    for role, name, number, _ in stack:
        problems.append("block %d (%s) is never closed" % (number, name))
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
