"""Parsing of the per-id behaviours: which workflows ask questions or run long, which bots
call a local tool. Each accepts a dict (from Python) or "ID:VALUE" texts (from `serve`);
a mistake raises ValueError with a Chinese message naming it (the CLI prints it).
"""

MAX_QUESTIONS = 3  # the real service resumes a run at most 3 times


def _digits(text, what, example):
    text = str(text).strip()
    if not text.isdigit():
        raise ValueError("%s 的 ID 应该是一串数字,现在是 %r(写法例如 %s)" % (what, text, example))
    return text


def parse_question_workflows(items):
    """{workflow_id: number of questions (1-3)} from ["ID", "ID:N", ...] or a dict/list of ids."""
    if isinstance(items, dict):
        items = ["%s:%s" % pair for pair in items.items()]
    parsed = {}
    for item in items or ():
        workflow_id, _, count = str(item).partition(":")
        workflow_id = _digits(workflow_id, "--question-workflow", "7401 或 7401:2")
        try:
            count = int(count or 1)
        except ValueError:
            count = 0
        if not 1 <= count <= MAX_QUESTIONS:
            raise ValueError("--question-workflow %s:问题个数应该是 1 到 %d" % (workflow_id, MAX_QUESTIONS))
        parsed[workflow_id] = count
    return parsed


def parse_slow_workflows(items):
    """{workflow_id: seconds} from ["ID:SECONDS", ...] or a dict."""
    pairs = items.items() if isinstance(items, dict) else (str(i).partition(":")[::2] for i in items or ())
    parsed = {}
    for workflow_id, seconds in pairs:
        workflow_id = _digits(workflow_id, "--slow-workflow", "7402:120")
        try:
            seconds = float(seconds)
        except (TypeError, ValueError):
            seconds = -1
        if seconds < 0:
            raise ValueError("--slow-workflow %s:要写运行秒数,例如 %s:120" % (workflow_id, workflow_id))
        parsed[workflow_id] = seconds
    return parsed


def parse_tool_bots(items):
    """{bot_id: (tool name, rounds)} from ["BOT_ID:TOOL_NAME", "BOT_ID:TOOL_NAME:ROUNDS", ...] or a dict
    {bot_id: tool name or (tool name, rounds)}."""
    if isinstance(items, dict):
        items = [":".join([str(k)] + ([str(x) for x in v] if isinstance(v, (list, tuple)) else [str(v)]))
                 for k, v in items.items()]
    parsed = {}
    for item in items or ():
        parts = str(item).split(":")
        bot_id = _digits(parts[0], "--tool-bot", "7000000000000000009:查询库存")
        name = parts[1].strip() if len(parts) > 1 else ""
        try:
            rounds = int(parts[2]) if len(parts) > 2 else 1
        except ValueError:
            rounds = 0
        if not name or rounds < 1 or len(parts) > 3:
            raise ValueError("--tool-bot %s:写法是 BOT_ID:工具名 或 BOT_ID:工具名:调用轮数,例如 %s:查询库存"
                             % (item, bot_id))
        parsed[bot_id] = (name, rounds)
    return parsed
