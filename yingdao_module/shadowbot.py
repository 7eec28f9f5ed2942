"""The ShadowBot Code-flow entry point: main(args).

ShadowBot passes the flow's input parameters in `args` (None when the module runs on its
own) and reads output parameters back from the same dict. Expected errors are written to
args["error"] and logged as one Chinese line, never as a traceback, so the flow can branch
on `error` instead of crashing.
"""
from .api import chat, run_workflow
from .errors import CozeError
from .log import log

CODE_FLOW_INPUTS = ("question", "bot_id", "token", "base_url", "user_id", "conversation_id",
                    "custom_variables", "timeout", "stream", "workflow_id", "parameters",
                    "app_id", "key_id", "private_key")
CODE_FLOW_OUTPUTS = ("answer", "conversation_id", "chat_id", "usage", "error")
STANDALONE_QUESTION = "你好,请用一句话介绍你自己。"


def code_flow_arg(args, name, default=None):
    """An input parameter; an empty text field counts as not given."""
    value = args.get(name)
    return default if value is None or value == "" else value


def main(args):
    """影刀 Code 流程的入口:回答 args["question"](填了 workflow_id 就运行工作流),返回回答。

    args   流程的输入参数字典(影刀自动传入;单独运行本模块时是 None,会用配置问一句自我介绍)。
           读取 question、bot_id、token、base_url、user_id、conversation_id、custom_variables、
           timeout、stream、workflow_id、parameters;写回 answer、conversation_id、chat_id、usage、
           error(出错时是中文说明,其余为空)。
    """
    standalone = args is None
    if standalone:  # run on its own: a quick check of the configured token and bot
        args = {"question": STANDALONE_QUESTION}
        log("coze 模块独立运行:用全局变量 / 环境变量里的配置提问「%s」" % STANDALONE_QUESTION)
    common = dict((name, code_flow_arg(args, name)) for name in ("bot_id", "token", "base_url", "app_id", "key_id", "private_key"))
    common["timeout"] = code_flow_arg(args, "timeout", 180)
    common["stream"] = code_flow_arg(args, "stream", True)
    args["error"] = ""
    try:
        if code_flow_arg(args, "workflow_id"):
            answer = run_workflow(args["workflow_id"], code_flow_arg(args, "parameters"), **common)
        else:
            result = chat(code_flow_arg(args, "question"), user_id=code_flow_arg(args, "user_id"),
                          conversation_id=code_flow_arg(args, "conversation_id"),
                          custom_variables=code_flow_arg(args, "custom_variables"), **common)
            for name in ("conversation_id", "chat_id", "usage"):
                args[name] = result[name]
            answer = result["answer"]
    except CozeError as err:
        args["error"] = str(err)
        args["answer"] = ""
        log("扣子调用失败:%s" % err)
        return ""
    args["answer"] = answer
    if standalone:
        log("扣子回答:%s" % (answer,))
    return answer
