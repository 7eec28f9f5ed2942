"""The ShadowBot Code-flow entry point: main(args).

ShadowBot passes the flow's input parameters in `args` (None when the module runs on its
own) and reads output parameters back from the same dict. Expected errors are written to
args["error"] and logged as one Chinese line, never as a traceback, so the flow can branch
on `error` instead of crashing.
"""
from .api import chat, run_workflow
from .config import DEFAULT_TIMEOUT
from .errors import CozeError
from .log import log, redact

# The flow's input parameters main(args) reads: the one list that templates, docs and tests use.
CONNECTION_INPUTS = ("bot_id", "token", "base_url", "app_id", "key_id", "private_key", "timeout", "stream")
CHAT_INPUTS = ("user_id", "conversation_id", "custom_variables")
WORKFLOW_INPUTS = ("workflow_id", "parameters", "workflow_answers", "is_async")
CODE_FLOW_INPUTS = ("question",) + CHAT_INPUTS + WORKFLOW_INPUTS + CONNECTION_INPUTS
CODE_FLOW_OUTPUTS = ("answer", "conversation_id", "chat_id", "usage", "error")
STANDALONE_QUESTION = "你好,请用一句话介绍你自己。"


def code_flow_arg(args, name, default=None):
    """An input parameter; an empty text field counts as not given."""
    value = args.get(name)
    return default if value is None or value == "" else value


def main(args):
    """影刀 Code 流程的入口:回答 args["question"](填了 workflow_id 就运行工作流),返回回答。

    args   流程的输入参数字典(影刀自动传入;单独运行本模块时是 None,会用配置问一句自我介绍)。
           读取 question、user_id、conversation_id、custom_variables、workflow_id、parameters、
           workflow_answers(问答节点的回答,JSON 列表)、is_async、bot_id、token、base_url、app_id、key_id、
           private_key、timeout、stream(都可不填,
           不填的用全局变量 / 环境变量 / 默认值);写回 answer、conversation_id、chat_id、usage、
           error(出错时是中文说明,其余为空)。
    """
    standalone = args is None
    if standalone:  # run on its own: a quick check of the configured token and bot
        args = {"question": STANDALONE_QUESTION}
        log("coze 模块独立运行:用全局变量 / 环境变量里的配置提问「%s」" % STANDALONE_QUESTION)
    if not (hasattr(args, "get") and hasattr(args, "__setitem__")):
        log("扣子调用失败:main(args) 需要影刀传入的参数字典,现在是 %s:请在 Code 流程里直接调用 main(args)"
            % type(args).__name__)
        return ""
    args["error"] = ""
    try:
        answer = code_flow_answer(args)
    except CozeError as err:
        return code_flow_failure(args, str(err))
    except Exception as err:  # a surprise must still end as args["error"], never as a traceback
        return code_flow_failure(args, "模块内部错误(%s):%s。请把这行文字和所用的参数(不要带令牌)发给维护者"
                                 % (type(err).__name__, redact(str(err))[:300]))
    args["answer"] = answer
    if standalone:
        log("扣子回答:%s" % (answer,))
    return answer


def code_flow_answer(args):
    """Run the chat or workflow `args` asks for; returns the answer (outputs written to args)."""
    common = dict((name, code_flow_arg(args, name)) for name in CONNECTION_INPUTS)
    common["timeout"] = code_flow_arg(args, "timeout", DEFAULT_TIMEOUT)
    common["stream"] = code_flow_arg(args, "stream", True)
    if code_flow_arg(args, "workflow_id"):
        return run_workflow(args["workflow_id"], code_flow_arg(args, "parameters"),
                            answers=code_flow_arg(args, "workflow_answers"), is_async=code_flow_arg(args, "is_async"),
                            **common)
    common.update((name, code_flow_arg(args, name)) for name in CHAT_INPUTS)
    result = chat(code_flow_arg(args, "question"), **common)
    for name in ("conversation_id", "chat_id", "usage"):
        args[name] = result[name]
    return result["answer"]


def code_flow_failure(args, message):
    """Write a failure where the flow reads it (redacted: it may end up in a shared log)."""
    message = redact(message)
    args["error"] = message
    args["answer"] = ""
    log("扣子调用失败:%s" % message)
    return ""
