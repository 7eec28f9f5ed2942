"""Configuration and input checks, done before any network call.

A setting is taken from the first place that has it:
the function argument → ShadowBot global variable (coze_token, coze_bot_id, coze_base_url,
coze_user_id, coze_app_id, coze_key_id, coze_private_key) → environment (COZE_API_TOKEN,
COZE_BOT_ID, COZE_API_BASE, COZE_USER_ID, COZE_APP_ID, COZE_KEY_ID, COZE_PRIVATE_KEY) →
default. Credentials are a token, or an OAuth service app (app_id + key_id + private_key). Values typed into ShadowBot's 调用模块 block arrive as text, so every coercion
here accepts text ("180", "false", '{"k": "v"}') as well as real Python values.
"""
import hashlib
import json
import os
import re

from .errors import InputError
from .header import glv
from .log import log, looks_like_token
from .rsa_sign import load_private_key

DEFAULT_BASE_URL = "https://api.coze.cn"
DEFAULT_TIMEOUT = 180

# setting name -> (ShadowBot global variable, environment variable)
SETTING_SOURCES = {
    "token": ("coze_token", "COZE_API_TOKEN"),
    "bot_id": ("coze_bot_id", "COZE_BOT_ID"),
    "base_url": ("coze_base_url", "COZE_API_BASE"),
    "user_id": ("coze_user_id", "COZE_USER_ID"),
    "app_id": ("coze_app_id", "COZE_APP_ID"),
    "key_id": ("coze_key_id", "COZE_KEY_ID"),
    "private_key": ("coze_private_key", "COZE_PRIVATE_KEY"),
}
APP_SETTINGS = ("app_id", "key_id", "private_key")  # an OAuth service app (服务类应用) needs all three

_WHERE_TO_SET = {
    "token": "在参数 token 里填写,或在影刀全局变量 coze_token(建议用密码类型)里设置,或设置环境变量 COZE_API_TOKEN。"
             "令牌在扣子「个人访问令牌」页面创建:https://www.coze.cn/open/oauth/pats",
    "bot_id": "在参数 bot_id 里填写,或在影刀全局变量 coze_bot_id 里设置,或设置环境变量 COZE_BOT_ID。"
              "bot_id 是智能体编辑页网址里 /bot/ 后面那串数字",
}

_API_PATH_SUFFIX = re.compile(r"/(v\d+|open_api|api)(/.*)?$")
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")


def _shadowbot_global(name):
    """A ShadowBot global variable, or None outside ShadowBot / when it is not defined."""
    if glv is None:
        return None
    try:
        value = glv[name]
    except Exception:
        return None
    # password-type variables may come back as an object that prints as the secret
    return value if value is None or isinstance(value, (str, int)) else str(value)


def _is_blank(value):
    return value is None or (isinstance(value, str) and not value.strip())


def located_setting(name, value=None):
    """(value, rank, where) of the first non-blank value: 0 argument, 1 global variable,
    2 environment, 3 nowhere."""
    if not _is_blank(value):
        return value, 0, "参数 " + name
    global_name, env_name = SETTING_SOURCES[name]
    value = _shadowbot_global(global_name)
    if not _is_blank(value):
        return value, 1, "影刀全局变量 " + global_name
    value = os.environ.get(env_name)
    if not _is_blank(value):
        return value, 2, "环境变量 " + env_name
    return None, 3, None


def setting(name, value=None):
    """The first non-blank value for a setting: argument, global variable, environment."""
    return located_setting(name, value)[0]


# ---- individual values ---------------------------------------------------------------

def refuse_token(value, name):
    """A token pasted into the wrong field must neither travel on nor be echoed back."""
    if looks_like_token(value if isinstance(value, str) else str(value)):
        raise InputError("%s 里像是填了令牌或密钥(内容不显示):令牌只应填在 token 参数或影刀全局变量 coze_token 里,"
                         "请检查各参数是否填错了位置" % name)


def clean_token(token):
    """Normalise a pasted token: spaces, line breaks, quotes and a leading 'Bearer '."""
    if _is_blank(token):
        raise InputError("缺少扣子令牌(token):" + _WHERE_TO_SET["token"])
    if not isinstance(token, str):
        raise InputError("令牌(token)应该是文本,现在是 %s" % type(token).__name__)
    token = re.sub(r"\s+", "", token).strip("'\"“”‘’")
    if token.lower().startswith("bearer"):
        token = token[len("bearer"):]
    if not token:
        raise InputError("令牌(token)是空的:" + _WHERE_TO_SET["token"])
    if any(ord(ch) > 126 for ch in token):
        raise InputError("令牌(token)里有中文、全角或其他非 ASCII 字符:请从扣子「个人访问令牌」页面重新复制,"
                         "只复制 pat_ 开头的那串字符")
    return token


_said_once = set()


def log_once(message):
    """Log a configuration notice once per process, not on every call of a loop."""
    if message not in _said_once:
        _said_once.add(message)
        log(message)


def clean_app_field(value, name, what):
    """app_id / key_id: one word of ASCII text; the page they come from is in the message."""
    plain = isinstance(value, (str, int)) and not isinstance(value, bool)
    text = str(value).strip().strip("'\"“”‘’") if plain else None
    if not text or any(ch.isspace() or ord(ch) > 126 for ch in text):
        raise InputError("%s 格式不对:应是扣子「OAuth 应用」页面上复制的%s(一串字母数字,不含空格和中文)" % (name, what))
    return text


def resolve_credentials(token=None, app_id=None, key_id=None, private_key=None):
    """(token, app) where exactly one is set; app is (app_id, key_id, RsaPrivateKey).

    A service app needs all three of app_id, key_id and private_key. When both a token and
    a complete app are configured, the one from the more specific place wins (argument,
    then global variable, then environment; the app on a tie: it does not expire) and the
    choice is logged once."""
    token_value, token_rank, token_where = located_setting("token", token)
    parts = dict((name, located_setting(name, value)) for name, value in
                 (("app_id", app_id), ("key_id", key_id), ("private_key", private_key)))
    given = [name for name in APP_SETTINGS if parts[name][0] is not None]
    if not given:
        return clean_token(token_value), None
    missing = [name for name in APP_SETTINGS if name not in given]
    if missing:
        if token_value is not None:
            log_once("服务类应用配置不完整(缺 %s),改用令牌(来自%s)" % ("、".join(missing), token_where))
            return clean_token(token_value), None
        raise InputError("服务类应用(OAuth JWT)配置不完整:已有 %s,还缺 %s。三项都要填:app_id(应用 ID)、key_id(公钥指纹)、"
                         "private_key(私钥 PEM 文本或 .pem 文件路径),可用参数、影刀全局变量 coze_app_id / coze_key_id / "
                         "coze_private_key(私钥建议用密码类型)或环境变量 COZE_APP_ID / COZE_KEY_ID / COZE_PRIVATE_KEY"
                         % ("、".join(given), "、".join(missing)))
    app_rank, app_where = parts["app_id"][1], parts["app_id"][2]
    if token_value is not None:
        if token_rank < app_rank:
            log_once("同时配置了令牌(来自%s)和服务类应用(来自%s):使用令牌" % (token_where, app_where))
            return clean_token(token_value), None
        log_once("同时配置了令牌(来自%s)和服务类应用(来自%s):使用服务类应用" % (token_where, app_where))
    app = (clean_app_field(parts["app_id"][0], "app_id", "应用 ID"),
           clean_app_field(parts["key_id"][0], "key_id", "公钥指纹(公钥 ID)"),
           load_private_key(parts["private_key"][0]))
    return None, app


def clean_bot_id(bot_id, required=True):
    """bot_id as a digit string; accepts the bot page URL users often paste."""
    if _is_blank(bot_id):
        if required:
            raise InputError("缺少智能体 ID(bot_id):" + _WHERE_TO_SET["bot_id"])
        return None
    if isinstance(bot_id, bool) or isinstance(bot_id, float):
        raise InputError("bot_id 被当成了小数(%r),长数字会丢失精度:请把 bot_id 作为文本填写" % (bot_id,))
    if isinstance(bot_id, int):
        return str(bot_id)
    if not isinstance(bot_id, str):
        raise InputError("bot_id 应该是一串数字,现在是 %s" % type(bot_id).__name__)
    refuse_token(bot_id, "bot_id")
    text = bot_id.strip().strip("'\"")
    from_url = re.search(r"/bot/(\d+)", text)
    if from_url:
        return from_url.group(1)
    if not re.match(r"^[0-9]+$", text):
        raise InputError("bot_id 应该是一串数字(现在是 %r):在扣子里打开智能体编辑页,网址 /bot/ 后面那串数字就是 bot_id"
                         % text[:40])
    return text


def clean_base_url(base_url):
    """The API root, e.g. https://api.coze.cn; refuses hosts that are surely a typo. Without a scheme,
    a host means https:// and this machine (127.0.0.1, localhost) http://."""
    if _is_blank(base_url):
        return DEFAULT_BASE_URL
    if not isinstance(base_url, str):
        raise InputError("base_url 应该是网址文本,例如 https://api.coze.cn")
    refuse_token(base_url, "base_url")
    url = base_url.strip().rstrip("/")
    scheme, rest = url.split("://", 1) if "://" in url else ("", url)
    host = rest.split("/", 1)[0]
    path = rest[len(host):]
    hostname = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
    hostname = hostname.lower()
    if not scheme:  # "api.coze.cn" means https; this machine (the simulator, a test server) plain http
        scheme = "http" if hostname in _LOOPBACK_HOSTS else "https"
    if scheme.lower() not in ("http", "https") or not hostname:
        raise InputError("base_url 格式不对(%s):应为 https://api.coze.cn(国内扣子)或 https://api.coze.com(国际版)"
                         % base_url.strip()[:80])
    if hostname in ("www.coze.cn", "coze.cn", "www.coze.com", "coze.com"):
        raise InputError("base_url 填成了扣子网站地址 %s:API 地址是 https://api.%s" % (hostname, hostname.replace("www.", "")))
    known = (hostname in _LOOPBACK_HOSTS or hostname.endswith(".coze.cn") or hostname.endswith(".coze.com")
             or os.environ.get("COZE_ALLOW_ANY_BASE_URL") == "1")
    if not known:
        raise InputError("base_url 的主机 %s 不是扣子的地址:国内扣子用 https://api.coze.cn,国际版用 https://api.coze.com"
                         "(私有部署请设置环境变量 COZE_ALLOW_ANY_BASE_URL=1)" % hostname)
    path = _API_PATH_SUFFIX.sub("", path)  # a pasted ".../v3/chat" still means the API root
    return "%s://%s%s" % (scheme.lower(), host, path)


def clean_user_id(user_id):
    import platform  # on first use: importing the module stays fast
    if not _is_blank(user_id):
        refuse_token(user_id, "user_id")
        return str(user_id).strip()
    # stable per machine, so the bot's per-user memory and limits behave sensibly
    node = re.sub(r"[^0-9A-Za-z_.-]", "", platform.node() or "")
    return "yingdao_" + (node or "user")


def clean_conversation_id(conversation_id):
    """A conversation id as text, or None when not given."""
    if _is_blank(conversation_id):
        return None
    refuse_token(conversation_id, "conversation_id")
    return str(conversation_id).strip()


def clean_timeout(timeout, default=DEFAULT_TIMEOUT):
    """Seconds as a positive number; accepts "180" from a ShadowBot text field."""
    if _is_blank(timeout):
        return float(default)
    if isinstance(timeout, bool):
        raise InputError("timeout 应该是秒数(正数),例如 180")
    try:
        value = float(timeout.strip() if isinstance(timeout, str) else timeout)
    except (TypeError, ValueError):
        raise InputError("timeout 应该是秒数(正数),例如 180,现在是 %r" % (timeout,))
    if not value > 0 or value > 24 * 3600:
        raise InputError("timeout 应该是大于 0 的秒数(最多 86400),例如 180,现在是 %r" % (timeout,))
    return value


_TRUE_WORDS = ("true", "1", "yes", "y", "on", "是", "真", "开")
_FALSE_WORDS = ("false", "0", "no", "n", "off", "否", "假", "关")


def clean_bool(value, name, default):
    if _is_blank(value):
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    word = str(value).strip().lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise InputError("%s 应该是 True 或 False(也可写 是/否),现在是 %r" % (name, value))


def clean_question(question):
    if isinstance(question, (int, float)) and not isinstance(question, bool):
        question = str(question)
    if question is not None and not isinstance(question, str):
        raise InputError("问题(question)应该是文本,现在是 %s" % type(question).__name__)
    if question is None or not question.strip():
        raise InputError("问题(question)是空的:请填写要问智能体的内容")
    return question


def clean_json_dict(value, name, example='{"input": "你好"}'):
    """A dict of any JSON values (workflow parameters); accepts JSON text from ShadowBot."""
    if _is_blank(value):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise InputError("%s 应该是字典或 JSON 文本,例如 %s" % (name, example))
    if not isinstance(value, dict):
        raise InputError("%s 应该是字典,例如 %s,现在是 %s" % (name, example, type(value).__name__))
    return value


def clean_str_dict(value, name):
    """A dict of text -> text, e.g. custom_variables; numbers become text, nothing else does."""
    if _is_blank(value):
        return None
    result = {}
    for key, item in clean_json_dict(value, name, '{"城市": "杭州"}').items():
        refuse_token(key, name)
        refuse_token(item, name)
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            item = str(item)
        if not isinstance(key, str) or not isinstance(item, str):
            raise InputError("%s 的键和值都必须是文本:%r 的值是 %s,请先转成文本" % (name, key, type(item).__name__))
        result[key] = item
    return result


def clean_file_list(files):
    """files: a path, a file id, a list of them, or JSON text of a list."""
    if _is_blank(files):
        return []
    if isinstance(files, str):
        text = files.strip()
        if text.startswith("["):
            try:
                files = json.loads(text)
            except ValueError:
                raise InputError('files 应该是文件路径列表,例如 ["C:/图片/a.png"]')
        else:
            files = [text]
    if not isinstance(files, (list, tuple)):
        raise InputError("files 应该是文件路径或文件路径列表,现在是 %s" % type(files).__name__)
    cleaned = []
    for item in files:
        if isinstance(item, dict) and item.get("type") in ("image", "file") and \
                (item.get("file_id") or item.get("file_url")):
            cleaned.append(("part", item))  # a message part already made: {"type": "image", "file_id" or "file_url"}
            continue
        item = str(item).strip().strip('"')
        refuse_token(item, "files")
        if os.path.isfile(item):
            cleaned.append(("path", item))
        elif item.isdigit():
            cleaned.append(("id", item))  # a file id from upload_file()
        else:
            raise InputError("找不到文件:%s(请检查路径,影刀里可用「选择文件」指令得到完整路径)" % item)
    return cleaned


def clean_workflow_id(workflow_id):
    if _is_blank(workflow_id):
        raise InputError("缺少工作流 ID(workflow_id):在扣子里打开工作流编辑页,网址里 workflow= 后面那串数字就是它")
    text = str(workflow_id).strip()
    refuse_token(text, "workflow_id")
    from_url = re.search(r"workflow(?:_id)?=(\d+)", text)
    if from_url:
        return from_url.group(1)
    if not re.match(r"^[0-9]+$", text):
        raise InputError("workflow_id 应该是一串数字(现在是 %r):工作流编辑页网址里 workflow= 后面的数字" % text[:40])
    return text


class Settings(object):
    """Resolved connection settings. Its repr never shows the token or the private key."""

    def __init__(self, token=None, bot_id=None, base_url=None, user_id=None, require_bot=False,
                 app_id=None, key_id=None, private_key=None):
        self.token, self.app = resolve_credentials(token, app_id, key_id, private_key)
        self.base_url = clean_base_url(setting("base_url", base_url))
        self.bot_id = clean_bot_id(setting("bot_id", bot_id), required=require_bot)
        self.user_id = clean_user_id(setting("user_id", user_id))

    def fingerprint(self):
        """A key for caching clients with these settings; holds a hash, never the token."""
        if self.app is not None:
            app_id, key_id, private_key = self.app
            secret = "app:%s:%s:%s" % (app_id, key_id, private_key.fingerprint)
        else:
            secret = "token:" + self.token
        digest = hashlib.sha256(secret.encode("utf-8")).hexdigest()
        return (digest, self.base_url, self.bot_id, self.user_id)

    def __repr__(self):
        who = "app_id=%r, 私钥=<隐藏>" % self.app[0] if self.app is not None else "token=<隐藏>"
        return "Settings(base_url=%r, bot_id=%r, user_id=%r, %s)" % (self.base_url, self.bot_id, self.user_id, who)
