"""Local tools (端插件): a bot calls a tool that runs on the caller's side; the chat stops in
`requires_action` until each call gets an output.

    ask("螺丝还有多少?", tools={"查询库存": lambda question: "42 个"})
    ask("螺丝还有多少?", tools={"查询库存": "查询库存"})         # a ShadowBot sub-flow, by its shown name
    batch(..., tools='{"查询库存": "stock:query"}')               # module:function (command line)

A handler is a Python callable, called with the tool's JSON arguments as keyword arguments
(its result is submitted as is when it is text, as JSON otherwise), or the name of a ShadowBot
sub-flow (the name shown in the flow list, or its file name), run with xbot_visual.process.run
under its file name (app_flows.py reads package.json): the arguments are its inputs and its output
parameter `output` is the result. Text shaped "module:function" names a Python function to
import (how the command line, which takes JSON text, passes one). Such a chat cannot be cancelled, so every call must be
answered: a handler that raises, or a tool without a handler, gets an error text as its
output (and a log line), and the bot decides how to go on.
"""
import json
import re

from .app_flows import app_location, subflow_file
from .errors import CozeError, InputError
from .log import log

MAX_TOOL_ROUNDS = 10      # a bot asking for tools more often than this is stopped
SUBFLOW_OUTPUT = "output"  # the output parameter a sub-flow serving a tool must have
PYTHON_FUNCTION = re.compile(r"^([A-Za-z_][\w.]*):([A-Za-z_]\w*)$")  # "module:function"


def in_shadowbot():
    try:
        import xbot_visual  # noqa: F401  (only inside ShadowBot)
    except ImportError:
        return False
    return True


def clean_tools(tools):
    """{tool name: handler} from a dict or (from ShadowBot) JSON text {"工具名": "子流程名"}."""
    if tools is None or (isinstance(tools, str) and not tools.strip()):
        return {}
    if isinstance(tools, str):
        try:
            tools = json.loads(tools)
        except ValueError:
            tools = None
    if not isinstance(tools, dict):
        raise InputError('tools 应该是字典 {"工具名": 处理函数或影刀子流程名},或这样的 JSON 文本,'
                         '例如 {"查询库存": "查询库存"}')
    return dict((str(name), clean_handler(name, handler)) for name, handler in tools.items())


def clean_handler(name, handler):
    """A callable, or the name of a ShadowBot sub-flow (only inside ShadowBot)."""
    import importlib  # on first use: importing the module stays fast
    if callable(handler):
        return handler
    if not isinstance(handler, str) or not handler.strip():
        raise InputError("tools 里工具「%s」的处理方式应该是 Python 函数或影刀子流程名,现在是 %r" % (name, handler))
    handler = handler.strip()
    function = PYTHON_FUNCTION.match(handler)
    if function:
        try:
            return getattr(importlib.import_module(function.group(1)), function.group(2))
        except (ImportError, AttributeError) as exc:
            raise InputError("tools 里工具「%s」的函数「%s」找不到(%s):写成 模块名:函数名,模块要在当前目录或 Python 路径里"
                             % (name, handler, exc))
    if not in_shadowbot():
        raise InputError("tools 里工具「%s」写的是影刀子流程「%s」:子流程只能在影刀里运行;在影刀外请传 Python 函数"
                         "(命令行里写成 模块名:函数名)" % (name, handler))
    return subflow_file(name, handler)


def tool_outputs(required_action, tools, calls_made):
    """The tool_outputs answering every call of a `required_action`; each call is appended to
    `calls_made` as {name, arguments, output}."""
    calls = ((required_action or {}).get("submit_tool_outputs") or {}).get("tool_calls") or []
    outputs = []
    for call in calls:
        function = call.get("function") or {}
        name, arguments = function.get("name") or "", function.get("arguments") or ""
        output = run_tool(name, arguments, tools)
        calls_made.append({"name": name, "arguments": arguments, "output": output})
        outputs.append({"tool_call_id": call.get("id"), "output": output})
    return outputs


def run_tool(name, arguments, tools):
    """The output text of one tool call; a failure becomes an error text (logged)."""
    handler = tools.get(name)
    if handler is None:
        return tool_failed(name, "调用方没有提供这个工具(在 tools 参数里加上「%s」)" % name)
    try:
        kwargs = json.loads(arguments) if arguments.strip() else {}
        if not isinstance(kwargs, dict):
            raise ValueError("工具参数不是 JSON 对象:%s" % arguments[:200])
        result = run_subflow(handler, kwargs) if isinstance(handler, str) else handler(**kwargs)
    except Exception as exc:
        return tool_failed(name, "%s: %s" % (type(exc).__name__, exc))
    if result is None:
        return ""
    return result if isinstance(result, str) else json.dumps(result, ensure_ascii=False, default=str)


def tool_failed(name, why):
    log("本地工具「%s」没有运行成功:%s;已把这条错误作为工具结果交给智能体(这种对话不能取消)" % (name, why))
    return "工具「%s」运行失败:%s" % (name, why)


def run_subflow(process, inputs):
    """Run a ShadowBot sub-flow (its file name) with the tool's arguments as inputs, as the code
    ShadowBot generates does (`package` is the calling module's name); its `output` is the result."""
    try:
        import xbot_visual
    except ImportError:
        raise CozeError("影刀子流程「%s」只能在影刀里运行" % process)
    result = xbot_visual.process.run(process=process, package=app_location()[0], inputs=inputs,
                                     outputs=[SUBFLOW_OUTPUT])
    if isinstance(result, dict):
        return result.get(SUBFLOW_OUTPUT)
    return getattr(result, SUBFLOW_OUTPUT, result)
