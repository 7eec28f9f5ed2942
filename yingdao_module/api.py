"""Module-level shortcuts: what ShadowBot's 调用模块 block calls.

Each function resolves settings (argument → ShadowBot global variable → environment →
default), reuses a Client for the same settings (so a loop keeps its connection alive),
and does one thing. Parameters typed into 调用模块 arrive as text: "180", "false" and JSON
text are all understood.
"""
import threading

from .client import Client
from .workflow import run_workflow_on

_clients = {}
_clients_lock = threading.Lock()


def client_for(token=None, bot_id=None, base_url=None, user_id=None):
    """A cached Client for these settings (the cache key holds a hash, never the token)."""
    client = Client(token=token, bot_id=bot_id, base_url=base_url, user_id=user_id)
    with _clients_lock:
        return _clients.setdefault(client.settings.fingerprint(), client)


def ask(question, bot_id=None, token=None, base_url=None, user_id=None, conversation_id=None,
        custom_variables=None, files=None, timeout=180, stream=True):
    """Ask a Coze bot one question; returns the answer text.

    question          要问的内容(文本)
    bot_id            智能体 ID:智能体编辑页网址 /bot/ 后面的数字;不填则用全局变量 coze_bot_id
    token             个人访问令牌 pat_...;不填则用全局变量 coze_token / 环境变量 COZE_API_TOKEN
    base_url          https://api.coze.cn(默认,国内)或 https://api.coze.com(国际版)
    user_id           终端用户标识,不填则用本机名
    conversation_id   会话 ID(new_conversation() 得到),填了智能体就记得之前的对话
    custom_variables  自定义变量,字典或 JSON 文本,键值都是文本
    files             图片/文件路径(或 upload_file 得到的文件 ID),一个或列表
    timeout           最多等多少秒(默认 180),超时会取消这次对话
    stream            True 流式(默认,最快);False 轮询
    """
    return chat(question, bot_id, token, base_url, user_id, conversation_id, custom_variables, files,
                timeout, stream)["answer"]


def chat(question, bot_id=None, token=None, base_url=None, user_id=None, conversation_id=None,
         custom_variables=None, files=None, timeout=180, stream=True):
    """Like ask(), but returns a dict: answer, conversation_id, chat_id, usage, follow_ups,
    reasoning, logid, elapsed."""
    client = client_for(token, bot_id, base_url, user_id)
    return client.chat(question, conversation_id=conversation_id, custom_variables=custom_variables,
                       files=files, stream=stream, timeout=timeout)


def new_conversation(bot_id=None, token=None, base_url=None, timeout=60):
    """Create a conversation; pass its id as conversation_id so the bot remembers earlier turns."""
    return client_for(token, bot_id, base_url).new_conversation(timeout=timeout)


def run_workflow(workflow_id, parameters=None, bot_id=None, token=None, base_url=None, timeout=180, stream=True):
    """Run a Coze workflow; returns its output (a dict when the output is JSON).

    workflow_id  工作流 ID:工作流编辑页网址里 workflow= 后面的数字
    parameters   输入参数,字典或 JSON 文本,例如 {"input": "你好"}
    bot_id       工作流用到智能体相关节点时才需要
    """
    client = client_for(token, None, base_url)
    return run_workflow_on(client.transport, workflow_id, parameters, bot_id, timeout, stream)


def upload_file(path, token=None, base_url=None, timeout=120):
    """Upload an image or file; returns its file id (usable in `files`)."""
    return client_for(token, None, base_url).upload_file(path, timeout=timeout)
