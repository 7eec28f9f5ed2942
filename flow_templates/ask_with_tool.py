"""ask_with_tool: ask a bot whose local tool (端插件) is answered by a ShadowBot sub-flow."""
from .blocks import Template, invoke, log, text, var


def build():
    t = Template("ask_with_tool", "提问:端插件由影刀子流程回答",
                 "用 coze.ask 提问;智能体调用端插件「查询库存」时,模块运行影刀子流程「查询库存」"
                 "(模板 tool_subflow),把它的输出参数 output 交回智能体,智能体再据此回答。"
                 "tools 参数是 JSON 文本:键是扣子里端插件的名字,值是子流程在流程列表里显示的名字"
                 "(或它的文件名,如 process5;模块读应用的 package.json 换成文件名再运行,"
                 "名字不对时在提问之前就报错并列出应用里的流程)。")
    t.param_in("question", "str", "螺丝还有多少?", "要问智能体的问题")
    t.param_out("answer", "str", "", "智能体的回答")
    t.add(
        invoke("ask", [("question", var("question")), ("tools", text('{"查询库存": "查询库存"}'))], "answer",
               note="tools:端插件名 → 子流程显示名;工具出错时模块把错误说明交回智能体,不会卡住"),
        log(var("answer")),
    )
    return t
