"""workflow: run a Coze workflow with parameters from variables and keep its output dict."""
from .blocks import Template, expr, invoke, log, set_variable, var


def build():
    t = Template("workflow", "运行扣子工作流",
                 "把变量组装成工作流的输入参数(字典),用 coze.run_workflow 运行扣子工作流,"
                 "输出(字典)保存到 workflow_output 并打印到日志。")
    t.param_in("workflow_id", "str", "", "工作流 ID:工作流编辑页网址里 workflow= 后面的数字")
    t.param_in("input_text", "str", "你好", "传给工作流开始节点参数 input 的内容")
    t.param_out("workflow_output", "dict", "{}", "工作流的输出", kind="Expression")
    t.add(
        set_variable("parameters", expr('{"input": input_text}'), "dict",
                     note="键是工作流开始节点里的参数名,按你的工作流改"),
        invoke("run_workflow", [("workflow_id", var("workflow_id")), ("parameters", var("parameters"))],
               "workflow_output"),
        log(var("workflow_output")),
    )
    return t
