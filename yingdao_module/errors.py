"""Errors: one small hierarchy users can catch at any level.

    CozeError                 anything this module raises on purpose
    ├── InputError            bad input, refused before any network call (also a ValueError)
    ├── APIError              the service answered with an error code
    │   ├── AuthError         token invalid, wrong region, no permission     (fatal)
    │   ├── BotError          bot missing or not published as an API service (fatal)
    │   ├── QuotaError        quota, balance or daily limit used up          (fatal)
    │   ├── RateLimitError    too many requests, server busy                 (retryable)
    │   ├── ServerError       5xx, model error                               (retryable)
    │   ├── ChatFailedError   a chat ended `failed` with a code we do not map
    │   └── BadResponseError  a body that is not what it claims (wrong shape)  (not retried)
    ├── NetworkError          no usable answer: connection, reset, garbled body (retryable)
    │   ├── CertificateError  the HTTPS certificate is not trusted (company proxy?) (fatal)
    │   └── WorkflowInterrupted   a started workflow run lost its stream (never re-run)
    └── CozeTimeoutError      the overall deadline passed (the chat was cancelled)

Every message is Chinese first and says what to do. `code`, `logid`, `chat_id` and
`conversation_id` ride along for support. No error ever carries a secret: the message
passes through redact() when the error is made, so a token the server echoes back (or a
user pasted into the wrong field) never reaches a log, args["error"] or an output file.
"""
import re

from .log import redact

# "会自动重试" in a retryable error's message is true while retries remain; the last one says what happened
_RETRY_PROMISE = re.compile(r"[:,;]?\s*(?:稍后)?(?:会)?自动重试|(会自动重试)")


class CozeError(Exception):
    """Base class. `str(e)` is the Chinese message a user can act on."""

    retryable = False  # worth trying the same request again
    fatal = False      # a batch must stop: every further call would fail the same way
    retry_after = None  # seconds the server asked us to wait (HTTP Retry-After), if any
    failed_chat = False  # a chat that ran and ended `failed` on Coze's side (paid): only a new chat can help

    def __init__(self, message, code=None, logid=None, chat_id=None, conversation_id=None):
        self.message = redact(message)
        self.code = code
        self.logid = logid
        self.chat_id = chat_id
        self.conversation_id = conversation_id
        Exception.__init__(self, self._full_message())

    def _full_message(self):
        parts = [self.message]
        ids = []
        if self.code is not None:
            ids.append("错误码 %s" % self.code)
        if self.chat_id:
            ids.append("chat_id %s" % self.chat_id)
        if self.conversation_id:
            ids.append("conversation_id %s" % self.conversation_id)
        if self.logid:
            ids.append("logid %s" % self.logid)
        if ids:
            parts.append("[" + ", ".join(ids) + "]")
        return redact(" ".join(parts))

    def __repr__(self):
        return "%s(%r)" % (type(self).__name__, self._full_message())

    def reworded(self, message):
        """This error with another text (ids kept, secrets still redacted)."""
        self.message = redact(message)
        self.args = (self._full_message(),)
        return self

    def without_retry_promise(self):
        """This error with no "会自动重试" in its text: nothing here will retry it."""
        return self.reworded(_RETRY_PROMISE.sub("", self.message))

    def after_retries(self, what_happened):
        """This error as the final word when retrying stops: no promise of another retry."""
        return self.reworded("%s(%s)" % (_RETRY_PROMISE.sub("", self.message), what_happened))


class InputError(CozeError, ValueError):
    """Bad input caught before any network call."""
    fatal = True


class APIError(CozeError):
    """The service answered with `code != 0` (or an HTTP error status)."""


class AuthError(APIError):
    fatal = True


class BotError(APIError):
    fatal = True


class QuotaError(APIError):
    fatal = True


class RateLimitError(APIError):
    retryable = True


class ServerError(APIError):
    retryable = True


class ChatFailedError(APIError):
    """A chat that ended `failed` with an error code not mapped to a class above."""


class BadResponseError(APIError):
    """Coze answered, but the body does not have the shape the protocol promises."""


class NetworkError(CozeError):
    retryable = True


class CertificateError(NetworkError):
    """TLS certificate check failed: retrying cannot help until the trust store is fixed."""
    retryable = False
    fatal = True


class WorkflowInterrupted(NetworkError):
    """The connection of a workflow run that may have started broke and its result could not
    be recovered. Never retried: a second run could repeat what the workflow did (mail, rows)."""
    retryable = False


class CozeTimeoutError(CozeError):
    """The overall deadline (`timeout`) passed."""


# code -> (class, Chinese message with the fix). `{base_url}` is filled in when known.
ERROR_CODES = {
    4000: (APIError, "请求参数错误:检查 bot_id、问题内容和自定义变量的格式"),
    4001: (APIError, "chat_id 无效:这次对话不存在或已过期"),
    4002: (APIError, "conversation_id 无效:会话不存在,可先用 new_conversation() 新建会话,或留空自动新建"),
    4006: (BotError, "智能体不存在:检查 bot_id(智能体编辑页网址 /bot/ 后面那串数字),并确认令牌属于该智能体所在的空间"),
    4007: (APIError, "非流式调用必须保存历史(auto_save_history=true)"),
    4008: (QuotaError, "今日调用次数已达上限:明天再继续,或升级扣子套餐;批处理会保存进度,之后重跑同一命令即可续跑"),
    4009: (RateLimitError, "扣子服务繁忙(4009):稍后自动重试"),
    4010: (APIError, "提示词太长:缩短问题或清理会话历史(换一个新会话)"),
    4011: (QuotaError, "扣子账户余额不足:请到扣子控制台充值或检查套餐,充值后重跑即可续跑"),
    4013: (ServerError, "模型调用出错(4013):稍后自动重试;反复出现请在扣子里换一个模型"),
    4015: (BotError, "智能体未发布为 API 服务:在扣子里打开智能体,点「发布」,勾选「API」渠道后发布,再重试"),
    4016: (RateLimitError, "这个会话里上一次对话还没结束:等它结束后再问(会自动重试),或换一个会话"),
    4019: (QuotaError, "扣子账户余额不足(欠费):请到扣子控制台充值后重试"),
    4020: (RateLimitError, "请求太频繁(超过每分钟/每秒次数限制):会自动放慢重试;批处理可调低 qps/qpm"),
    4028: (QuotaError, "免费额度已用完:请到扣子控制台开通付费或等待额度恢复;批处理会保存进度,之后重跑同一命令即可续跑"),
    4100: (AuthError, "令牌无效(4100):检查 token 是否复制完整、是否过期,或确认 base_url 是 api.coze.cn 还是 api.coze.com"
                      "(国内扣子 coze.cn 的令牌只能用 https://api.coze.cn,"
                      "国际版 coze.com 的令牌只能用 https://api.coze.com;当前 {base_url})"),
    4101: (AuthError, "令牌没有权限:在扣子「个人访问令牌」里编辑令牌,勾选对话(chat)、工作流(workflow)、文件(file)等权限,并授权智能体所在的空间"),
    4104: (APIError, "对话已结束,无法取消"),
    4105: (APIError, "内容触发了安全审核被拦截:修改问题措辞后再试"),
    4200: (APIError, "资源不存在:检查 bot_id / workflow_id / 会话 id 是否正确"),
    5000: (ServerError, "扣子服务内部错误(5000):稍后自动重试"),
    6003: (APIError, "这个扣子账号的版本不支持异步运行工作流(6003,is_async 需要付费版):去掉 is_async 改用流式运行"
                     "(默认,最长约 10 分钟),或升级扣子套餐"),
    700012006: (AuthError, "访问令牌无效或已过期(OAuth):重新获取令牌"),
}


def error_for_code(code, msg="", logid=None, base_url=None, chat_id=None, conversation_id=None):
    """Build the right CozeError for a Coze error code, keeping the server's own words."""
    try:
        code = int(code)
    except (TypeError, ValueError):
        pass
    cls, text = ERROR_CODES.get(code, (APIError, "扣子返回错误"))
    msg = msg if isinstance(msg, str) else ("" if msg is None else str(msg))
    text = text.replace("{base_url}", base_url or "未知")
    if msg and msg not in text:
        text = "%s(扣子原话:%s)" % (text, msg)
    return cls(text, code=code, logid=logid, chat_id=chat_id, conversation_id=conversation_id)


def error_for_http_status(status, logid=None, base_url=None, retry_after=None):
    """An HTTP error status without a usable Coze envelope."""
    if status == 401:
        return error_for_code(4100, "", logid, base_url)
    if status == 403:
        return error_for_code(4101, "", logid, base_url)
    if status == 404:
        return APIError("接口地址不存在(HTTP 404):检查 base_url,应为 https://api.coze.cn 或 https://api.coze.com,"
                        "不要带 /v3/chat 等路径", code=404, logid=logid)
    if status == 429:
        err = RateLimitError("请求太频繁(HTTP 429):会自动放慢重试", code=429, logid=logid)
        err.retry_after = retry_after
        return err
    if status >= 500:
        return ServerError("扣子服务暂时不可用(HTTP %d):稍后自动重试" % status, code=status, logid=logid)
    return APIError("扣子返回 HTTP %d" % status, code=status, logid=logid)
