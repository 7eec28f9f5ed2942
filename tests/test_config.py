"""Bad input is refused before any network call, with a Chinese message that names the fix;
settings come from argument → ShadowBot global → environment → default."""
import pytest

from helpers import BOT_ID as BOT, TOKEN


@pytest.fixture
def no_network(requests_mock, coze, monkeypatch):
    monkeypatch.setenv("COZE_HTTP_BACKEND", "requests")
    yield requests_mock
    assert requests_mock.call_count == 0, "bad input must be refused before any request"


@pytest.mark.parametrize("kwargs,needle", [
    (dict(question=""), "问题(question)是空的"),
    (dict(question="   \n"), "问题(question)是空的"),
    (dict(question=None), "问题(question)是空的"),
    (dict(question=["a"]), "应该是文本"),
    (dict(token=None), "缺少扣子令牌"),
    (dict(token="   "), "缺少扣子令牌"),
    (dict(token="Bearer "), "令牌(token)是空的"),
    (dict(token="pat_复制错了"), "非 ASCII"),
    (dict(bot_id=None), "缺少智能体 ID"),
    (dict(bot_id="abc123"), "bot_id 应该是一串数字"),
    (dict(bot_id=7.345678901234568e18), "丢失精度"),
    (dict(timeout=-5), "大于 0"),
    (dict(timeout="abc"), "timeout 应该是秒数"),
    (dict(timeout=0), "大于 0"),
    (dict(base_url="https://api.coze.cm"), "不是扣子的地址"),
    (dict(base_url="https://www.coze.cn"), "https://api.coze.cn"),
    (dict(base_url="ftp://api.coze.cn"), "格式不对"),
    (dict(custom_variables={"城市": {"a": 1}}), "键和值都必须是文本"),
    (dict(custom_variables={"城市": None}), "键和值都必须是文本"),
    (dict(custom_variables="城市=杭州"), "JSON"),
    (dict(custom_variables=["a"]), "应该是字典"),
    (dict(files=["C:/不存在/图片.png"]), "找不到文件"),
    (dict(stream="maybe"), "True 或 False"),
])
def test_bad_input_is_refused_before_any_call(no_network, coze, kwargs, needle):
    call = dict(question="你好", bot_id=BOT, token=TOKEN)
    call.update(kwargs)
    with pytest.raises(coze.InputError) as info:
        coze.ask(**call)
    assert needle in str(info.value)
    assert isinstance(info.value, ValueError) and isinstance(info.value, coze.CozeError)
    assert TOKEN not in str(info.value)


def test_missing_settings_say_where_to_set_them(no_network, coze):
    with pytest.raises(coze.InputError) as info:
        coze.ask("你好", bot_id=BOT)
    assert "coze_token" in str(info.value) and "COZE_API_TOKEN" in str(info.value)
    with pytest.raises(coze.InputError) as info:
        coze.ask("你好", token=TOKEN)
    assert "coze_bot_id" in str(info.value) and "/bot/" in str(info.value)


def test_workflow_and_main_refuse_bad_input(no_network, coze):
    with pytest.raises(coze.InputError, match="workflow_id"):
        coze.run_workflow("", token=TOKEN)
    with pytest.raises(coze.InputError, match="一串数字"):
        coze.run_workflow("my-flow", token=TOKEN)
    with pytest.raises(coze.InputError, match="parameters"):
        coze.run_workflow("74", parameters="[1, 2", token=TOKEN)
    args = {"question": "", "token": TOKEN, "bot_id": BOT}
    assert coze.main(args) == ""
    assert "问题(question)是空的" in args["error"] and args["answer"] == ""


@pytest.mark.parametrize("raw,clean", [
    ("  pat_abc  ", "pat_abc"),
    ("Bearer pat_abc", "pat_abc"),
    ("bearer\tpat_abc\n", "pat_abc"),
    ('"pat_abc"', "pat_abc"),
    ("pat_a\r\nbc", "pat_abc"),
])
def test_tokens_are_normalised(coze, raw, clean):
    assert coze.clean_token(raw) == clean


@pytest.mark.parametrize("raw,clean", [
    (None, "https://api.coze.cn"),
    ("", "https://api.coze.cn"),
    ("api.coze.com", "https://api.coze.com"),
    ("https://api.coze.cn/", "https://api.coze.cn"),
    ("https://api.coze.cn/v3/chat", "https://api.coze.cn"),
    ("HTTPS://api.coze.com/open_api/v2/chat", "https://api.coze.com"),
    ("http://127.0.0.1:8123", "http://127.0.0.1:8123"),
])
def test_base_urls_are_normalised(coze, raw, clean):
    assert coze.clean_base_url(raw) == clean


@pytest.mark.parametrize("raw,clean", [
    ("7345678901234567890", "7345678901234567890"),
    (" 7345678901234567890 ", "7345678901234567890"),
    (7345678901234567890, "7345678901234567890"),
    ("https://www.coze.cn/space/7300/bot/7345678901234567890", "7345678901234567890"),
])
def test_bot_ids_are_normalised(coze, raw, clean):
    assert coze.clean_bot_id(raw) == clean


def test_text_values_from_shadowbot_are_coerced(coze):
    assert coze.clean_timeout("60") == 60.0
    assert coze.clean_bool("否", "stream", True) is False and coze.clean_bool("true", "stream", False) is True
    assert coze.clean_str_dict('{"城市": "杭州", "天数": 3}', "custom_variables") == {"城市": "杭州", "天数": "3"}


def test_settings_precedence(coze, monkeypatch):
    monkeypatch.setenv("COZE_API_TOKEN", "pat_from_env")
    monkeypatch.setenv("COZE_BOT_ID", "111")
    assert coze.Settings().token == "pat_from_env"
    coze.patch("glv", {"coze_token": "pat_from_global", "coze_bot_id": "222", "coze_base_url": "https://api.coze.com"})
    settings = coze.Settings()
    assert (settings.token, settings.bot_id, settings.base_url) == ("pat_from_global", "222", "https://api.coze.com")
    settings = coze.Settings(token="pat_from_arg", bot_id="333")
    assert (settings.token, settings.bot_id) == ("pat_from_arg", "333")
    assert "pat_from_arg" not in repr(settings)


def test_default_user_id_is_stable(coze):
    assert coze.Settings(token=TOKEN).user_id == coze.Settings(token=TOKEN).user_id
    assert coze.Settings(token=TOKEN).user_id.startswith("yingdao_")
