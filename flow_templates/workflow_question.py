"""workflow_question: run a Coze workflow whose question node (问答) is answered from flow variables."""
from .blocks import Template, expr, invoke, log, set_variable, var


def build():
    t = Template("workflow_question", "工作流问答:回答来自流程变量",
                 "运行一个带「问答」节点的扣子工作流:工作流中途提问时,模块按顺序用 answers 列表里的回答"
                 "(这里由流程变量 city、day 组成)回答并继续运行,结束节点的输出保存到 workflow_output。"
                 "回答不够用时模块报错,说明是哪个节点问了什么。")
    t.param_in("workflow_id", "str", "", "工作流 ID:工作流编辑页网址里 workflow= 后面的数字")
    t.param_in("city", "str", "杭州", "问答节点第一次提问(例如「请问要查询哪个城市?」)的回答")
    t.param_in("day", "str", "明天", "问答节点第二次提问(例如「请问要查询哪一天?」)的回答")
    t.param_out("workflow_output", "dict", "{}", "工作流结束节点的输出", kind="Expression")
    t.add(
        set_variable("answers", expr("[city, day]"), type_="list", note="按工作流提问的顺序排列回答;只问一次就只放一个"),
        invoke("run_workflow", [("workflow_id", var("workflow_id")), ("answers", var("answers"))],
               "workflow_output", note="parameters 可照模板 workflow 另外传入"),
        log(var("workflow_output")),
    )
    return t
