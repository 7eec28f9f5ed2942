"""ask_once: one question to the Coze bot, answer logged and shown; usable as a sub-flow."""
from .blocks import Template, alert, invoke, log, var


def build():
    t = Template("ask_once", "单次提问",
                 "用 coze.ask 问扣子智能体一个问题,把回答打印到日志并弹窗显示;"
                 "有输入参数 question、输出参数 answer,可以被别的流程用「调用流程」当子流程调用。")
    t.param_in("question", "str", "你好,请用一句话介绍你自己。", "要问扣子智能体的问题")
    t.param_out("answer", "str", "", "智能体的回答")
    t.add(
        invoke("ask", [("question", var("question"))], "answer",
               note="令牌和智能体 ID 不用填:模块自动读取全局变量 coze_token、coze_bot_id"),
        log(var("answer")),
        alert("扣子回答", var("answer"), note="无人值守运行或当子流程用时,可以禁用这一块"),
    )
    return t
