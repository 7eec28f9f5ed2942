"""conversation: several questions answered in one Coze conversation (the bot remembers)."""
from .blocks import (Template, end_loop, expr, for_each, invoke, list_append, list_create, log,
                     template_text, text, var)


def build():
    t = Template("conversation", "多轮会话",
                 "先用 coze.new_conversation 新建一个会话,再把问题列表里的问题依次用 coze.ask 在同一个会话里提问"
                 "(智能体记得前面的问答),回答按顺序收集到列表 answers。")
    t.param_in("questions", "list", '["你好,请记住:我叫小明,喜欢骑车。", "我叫什么名字?我喜欢什么?"]',
               "依次提问的问题列表", kind="Expression")
    t.param_out("answers", "list", "[]", "回答列表,和问题一一对应", kind="Expression")
    t.param_out("conversation_id", "str", "", "这次会话的 ID,之后还能接着问")
    t.add(
        invoke("new_conversation", [], "conversation_id", note="得到会话 ID"),
        list_create("answers"),
        for_each(var("questions"), "question", note="每次循环,当前问题保存在变量 question"),
        invoke("ask", [("question", var("question")), ("conversation_id", var("conversation_id"))], "answer",
               note="同一个 conversation_id,智能体就记得上文"),
        list_append("answers", var("answer")),
        log(template_text(text("问:"), var("question"), text(" 答:"), var("answer"))),
        end_loop(),
        log(expr('"会话 %s 共回答 %d 个问题" % (conversation_id, len(answers))')),
    )
    return t
