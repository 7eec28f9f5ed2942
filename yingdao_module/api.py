"""Module-level shortcuts: what ShadowBot's 调用模块 block calls.

Each function resolves settings (argument → ShadowBot global variable → environment →
default), reuses a Client for the same settings (so a loop keeps its connection alive),
and does one thing. Parameters typed into 调用模块 arrive as text: "180", "false" and JSON
text are all understood.
"""
import threading

from .client import Client
from .config import DEFAULT_TIMEOUT

_clients = {}
_clients_lock = threading.Lock()


def client_for(token=None, bot_id=None, base_url=None, user_id=None, app_id=None, key_id=None, private_key=None):
    """A cached Client for these settings (the cache key holds a hash, never the token or key)."""
    client = Client(token=token, bot_id=bot_id, base_url=base_url, user_id=user_id,
                    app_id=app_id, key_id=key_id, private_key=private_key)
    with _clients_lock:
        return _clients.setdefault(client.settings.fingerprint(), client)


def ask(question, bot_id=None, token=None, base_url=None, user_id=None, conversation_id=None,
        custom_variables=None, files=None, timeout=DEFAULT_TIMEOUT, stream=True, app_id=None, key_id=None,
        private_key=None, tools=None, workflow_id=None, parameters=None):
    """问扣子智能体一个问题,返回回答的文本。

    question          要问的内容(文本)
    bot_id            智能体 ID:智能体编辑页网址 /bot/ 后面的数字;不填则用全局变量 coze_bot_id
    token             个人访问令牌 pat_...;不填则用全局变量 coze_token / 环境变量 COZE_API_TOKEN
    base_url          https://api.coze.cn(默认,国内)或 https://api.coze.com(国际版)
    user_id           终端用户标识,不填则用本机名
    conversation_id   会话 ID(new_conversation() 得到),填了智能体就记得之前的对话
    custom_variables  自定义变量,字典或 JSON 文本,键值都是文本
    files             图片/文件路径(或 upload_file 得到的文件 ID),一个或列表
    timeout           最多等多少秒(默认 180),超时会取消这次对话
    stream            True 流式(默认,最快);False 轮询(网络会掐断长连接时用)
    app_id            服务类应用(OAuth JWT)的应用 ID:与 key_id、private_key 一起代替 token,机器人长期无人值守时用它
                      (个人访问令牌最长 30 天就过期);不填用全局变量 coze_app_id 或环境变量 COZE_APP_ID
    key_id            该应用公钥的指纹(公钥 ID);不填用全局变量 coze_key_id 或环境变量 COZE_KEY_ID
    private_key       私钥:PEM 文本或 .pem 文件路径;建议放在密码类型的全局变量 coze_private_key 里
    tools             本地工具(端插件):{"工具名": Python 函数或影刀子流程名};影刀「调用模块」里填 JSON 文本,
                      例如 {"查询库存": "查询库存"}(子流程的输入参数和工具参数同名,输出参数叫 output)
    workflow_id       对话流(Chatflow)ID:填了就问这个对话流,不需要 bot_id
    parameters        对话流开始节点的参数:字典或 JSON 文本
    """
    return chat(question, bot_id=bot_id, token=token, base_url=base_url, user_id=user_id,
                conversation_id=conversation_id, custom_variables=custom_variables, files=files,
                timeout=timeout, stream=stream, app_id=app_id, key_id=key_id, private_key=private_key,
                tools=tools, workflow_id=workflow_id, parameters=parameters)["answer"]


def chat(question, bot_id=None, token=None, base_url=None, user_id=None, conversation_id=None,
         custom_variables=None, files=None, timeout=DEFAULT_TIMEOUT, stream=True, app_id=None, key_id=None,
         private_key=None, tools=None, workflow_id=None, parameters=None):
    """和 ask 一样提问,但返回字典:answer(回答)、conversation_id、chat_id、usage(用量)、
    follow_ups(推荐追问)、reasoning(思考过程)、logid、tool_calls(本地工具调用)、elapsed(秒)。

    question          要问的内容(文本)
    bot_id            智能体 ID(智能体编辑页网址 /bot/ 后面的数字),不填用全局变量 coze_bot_id
    token             个人访问令牌 pat_...,不填用全局变量 coze_token 或环境变量 COZE_API_TOKEN
    base_url          API 地址:国内 https://api.coze.cn(默认),国际版 https://api.coze.com
    user_id           终端用户标识,不填则用本机名
    conversation_id   会话 ID:填上次结果里的 conversation_id,智能体就接着聊
    custom_variables  自定义变量:字典或 JSON 文本,例如 {"城市": "杭州"}
    files             图片或文件:本机路径或文件 ID,一个或一个列表
    timeout           最多等待的秒数(默认 180),到时取消这次对话并报错
    stream            是否流式:True(默认)流式,False 轮询
    app_id            服务类应用(OAuth JWT)的应用 ID:与 key_id、private_key 一起代替 token,机器人长期无人值守时用它
                      (个人访问令牌最长 30 天就过期);不填用全局变量 coze_app_id 或环境变量 COZE_APP_ID
    key_id            该应用公钥的指纹(公钥 ID);不填用全局变量 coze_key_id 或环境变量 COZE_KEY_ID
    private_key       私钥:PEM 文本或 .pem 文件路径;建议放在密码类型的全局变量 coze_private_key 里
    tools             本地工具(端插件):{"工具名": Python 函数或影刀子流程名};影刀「调用模块」里填 JSON 文本,
                      例如 {"查询库存": "查询库存"}(子流程的输入参数和工具参数同名,输出参数叫 output)
    workflow_id       对话流(Chatflow)ID:填了就问这个对话流,不需要 bot_id
    parameters        对话流开始节点的参数:字典或 JSON 文本
    """
    client = client_for(token, None if workflow_id else bot_id, base_url, user_id, app_id, key_id, private_key)
    return client.chat(question, conversation_id=conversation_id, custom_variables=custom_variables,
                       files=files, stream=stream, timeout=timeout, tools=tools, workflow_id=workflow_id,
                       parameters=parameters, bot_id=bot_id if workflow_id else None)


def new_conversation(bot_id=None, token=None, base_url=None, timeout=60, app_id=None, key_id=None, private_key=None):
    """新建一个会话,返回会话 ID。之后提问时把它填进 conversation_id,智能体就记得前面的对话。

    bot_id       智能体 ID,不填用全局变量 coze_bot_id
    token        个人访问令牌 pat_...,不填用全局变量 coze_token
    base_url     API 地址,不填用 https://api.coze.cn
    timeout      最多等待的秒数(默认 60)
    app_id       服务类应用(OAuth JWT)的应用 ID,与 key_id、private_key 一起代替 token,见 ask()
    key_id       服务类应用公钥的指纹(公钥 ID)
    private_key  私钥:PEM 文本或 .pem 文件路径(建议放在密码类型的全局变量 coze_private_key)
    """
    client = client_for(token, bot_id, base_url, None, app_id, key_id, private_key)
    return client.new_conversation(timeout=timeout)


def run_workflow(workflow_id, parameters=None, bot_id=None, token=None, base_url=None, timeout=DEFAULT_TIMEOUT,
                 stream=True, app_id=None, key_id=None, private_key=None, answers=None, is_async=None):
    """运行一个扣子工作流,返回结束节点的输出(输出是 JSON 时返回字典,否则返回文本)。

    workflow_id  工作流 ID:工作流编辑页网址里 workflow= 后面的数字
    parameters   输入参数:字典或 JSON 文本,例如 {"input": "你好"}
    bot_id       工作流里用到智能体相关节点时才需要填
    token        个人访问令牌 pat_...,不填用全局变量 coze_token
    base_url     API 地址,不填用 https://api.coze.cn
    timeout      最多等待的秒数(默认 180;超过 600 且没填 is_async 时自动异步运行)
    stream       True(默认)流式运行;False 等工作流整体跑完再返回(约 90 秒后会被断开)
    app_id       服务类应用(OAuth JWT)的应用 ID,与 key_id、private_key 一起代替 token,见 ask()
    key_id       服务类应用公钥的指纹(公钥 ID)
    private_key  私钥:PEM 文本或 .pem 文件路径(建议放在密码类型的全局变量 coze_private_key)
    answers      问答节点的回答:列表(按提问顺序)、函数 f(问题) -> 回答,或 JSON 列表文本 ["杭州"]
    is_async     True:在扣子后台异步运行并定时查询结果(超过 10 分钟的工作流用它,需付费版)
    """
    return run_workflow_full(workflow_id, parameters, bot_id, token, base_url, timeout, stream, app_id, key_id,
                             private_key, answers, is_async)["output"]


def run_workflow_full(workflow_id, parameters=None, bot_id=None, token=None, base_url=None, timeout=DEFAULT_TIMEOUT,
                      stream=True, app_id=None, key_id=None, private_key=None, answers=None, is_async=None):
    """和 run_workflow 一样运行工作流,但返回字典:output(结束节点输出)、messages(消息节点的文本)、
    questions(问答节点问了什么、答了什么)、execute_id、debug_url(调试页)、usage(用量)、logid、elapsed(秒)。

    workflow_id  工作流 ID:工作流编辑页网址里 workflow= 后面的数字
    parameters   输入参数:字典或 JSON 文本,例如 {"input": "你好"}
    bot_id       工作流里用到智能体相关节点时才需要填
    token        个人访问令牌 pat_...,不填用全局变量 coze_token
    base_url     API 地址,不填用 https://api.coze.cn
    timeout      最多等待的秒数(默认 180;超过 600 且没填 is_async 时自动异步运行)
    stream       True(默认)流式运行;False 等工作流整体跑完再返回(约 90 秒后会被断开)
    app_id       服务类应用(OAuth JWT)的应用 ID,与 key_id、private_key 一起代替 token,见 ask()
    key_id       服务类应用公钥的指纹(公钥 ID)
    private_key  私钥:PEM 文本或 .pem 文件路径(建议放在密码类型的全局变量 coze_private_key)
    answers      问答节点的回答:列表(按提问顺序)、函数 f(问题) -> 回答,或 JSON 列表文本 ["杭州"]
    is_async     True:在扣子后台异步运行并定时查询结果(超过 10 分钟的工作流用它,需付费版)
    """
    client = client_for(token, None, base_url, None, app_id, key_id, private_key)
    return client.run_workflow_full(workflow_id, parameters, bot_id, timeout, stream, answers, is_async)


def upload_file(path, token=None, base_url=None, timeout=120, app_id=None, key_id=None, private_key=None):
    """把图片或文件上传到扣子,返回文件 ID(可以填进 ask / chat 的 files)。

    path         本机文件路径,例如 C:\\报表\\图片.png
    token        个人访问令牌 pat_...,不填用全局变量 coze_token
    base_url     API 地址,不填用 https://api.coze.cn
    timeout      最多等待的秒数(默认 120)
    app_id       服务类应用(OAuth JWT)的应用 ID,与 key_id、private_key 一起代替 token,见 ask()
    key_id       服务类应用公钥的指纹(公钥 ID)
    private_key  私钥:PEM 文本或 .pem 文件路径(建议放在密码类型的全局变量 coze_private_key)
    """
    client = client_for(token, None, base_url, None, app_id, key_id, private_key)
    return client.upload_file(path, timeout=timeout)
