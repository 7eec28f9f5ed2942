"""Commands printed for users to paste (shell_quote.py). POSIX: the printed command is really
run through bash and sh with a canary ($(touch X) and friends must not create X) against a
script that prints its argv, which must be exactly the original values. cmd.exe and
PowerShell cannot run here, so their rules are checked as data: a value either is refused,
or its quoted form contains nothing those shells expand and parses back (by the Microsoft C
runtime's argv rules) to exactly the original."""
import json
import os
import subprocess
import sys

import pytest

from helpers import find_python

HOSTILE = [
    "商品 表.xlsx", "$(touch PWNED)", "`touch PWNED`", "a;touch PWNED", "a && touch PWNED", "a | touch PWNED",
    "it's", "say \"hi\"", "%PATH%", "!PATH!", "line1\nline2;touch PWNED", "tab\there", "back\\slash\\",
    "$HOME ${HOME} $((1+1))", "~/x", "*.xlsx", "a'b'\"c\"$(touch PWNED)", "为{商品名}写广告语", "", "-n",
    "‘smart’ “quotes”", "a\\\"b", "^caret ^& amp", "end with space ",
]
ARGV_PRINTER = "import json, sys\nprint(json.dumps(sys.argv[1:]))\n"


@pytest.fixture
def printer(tmp_path):
    path = tmp_path / "argv.py"
    path.write_text(ARGV_PRINTER, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("shell", ["bash", "sh", "dash"])
def test_a_printed_posix_command_runs_nothing_and_passes_every_value_exactly(coze, tmp_path, printer, shell):
    if not any(os.access(os.path.join(d, shell), os.X_OK) for d in os.environ.get("PATH", "").split(os.pathsep)):
        pytest.skip("%s is not installed" % shell)
    line = coze.command_line([coze.posix_quote(sys.executable), printer] + HOSTILE, "posix")
    done = subprocess.run([shell, "-c", line], cwd=str(tmp_path), capture_output=True, timeout=30,
                          env=dict(os.environ, LC_ALL="C.UTF-8"))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.decode("utf-8")) == HOSTILE
    assert not (tmp_path / "PWNED").exists()


def crt_argv(line):
    """How the Microsoft C runtime (and Python on Windows) splits a command line (2008+ rules):
    2n backslashes + quote -> n backslashes and a quote toggle; 2n+1 -> n and a literal quote;
    other backslashes are literal; "" inside quotes is a literal quote."""
    args, current, quoted, i, started = [], [], False, 0, False
    while i < len(line):
        char = line[i]
        if char == "\\":
            count = len(line[i:]) - len(line[i:].lstrip("\\"))
            if i + count < len(line) and line[i + count] == '"':
                current.append("\\" * (count // 2))
                if count % 2:
                    current.append('"')
                    i += count + 1
                else:
                    i += count
                started = True
                continue
            current.append("\\" * count)
            i += count
            started = True
            continue
        if char == '"':
            if quoted and line[i + 1:i + 2] == '"':
                current.append('"')
                i += 2
                continue
            quoted = not quoted
            started = True
        elif char in " \t" and not quoted:
            if started:
                args.append("".join(current))
            current, started = [], False
        else:
            current.append(char)
            started = True
        i += 1
    if started:
        args.append("".join(current))
    return args


def test_cmd_quoting_refuses_what_cmd_expands_and_round_trips_the_rest(coze):
    quoted_any = 0
    for value in HOSTILE:
        text = coze.cmd_quote(value)
        if any(c in value for c in '%!"\n\r'):
            assert text is None, value  # cmd expands %VAR% / !VAR! inside quotes; " and newlines cannot be kept
            continue
        quoted_any += 1
        if text == value:  # a plain word left as typed
            assert value and all(c.isalnum() or c in "-_" for c in value), value
            continue
        body = text[1:-1]
        assert text[0] == text[-1] == '"' and '"' not in body and "%" not in body and "\n" not in body
        # inside the quotes cmd treats & | < > ^ ( ) as text; the C runtime gives the program the value
        assert crt_argv(text) == [value], (value, text)
    assert quoted_any >= 12
    line = coze.command_line(["python", "-m", "yingdao_module", "batch", "C:\\数据\\商品 表.xlsx", "a & b | c"], "cmd")
    assert crt_argv(line)[4:] == ["C:\\数据\\商品 表.xlsx", "a & b | c"]


def powershell_single_quoted(text):
    """The value of a PowerShell single-quoted string: doubled single quotes (any of ' ‘ ’ ‚ ‛)
    are one quote; nothing else is special."""
    assert text[0] in "'\u2018\u2019\u201a\u201b" and text[-1] in "'\u2018\u2019\u201a\u201b"
    body, out, i = text[1:-1], [], 0
    while i < len(body):
        if body[i] in "'\u2018\u2019\u201a\u201b":
            assert body[i + 1] in "'\u2018\u2019\u201a\u201b", text  # a lone quote would end the string
            out.append(body[i])
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


def windows_powershell_passes(value):
    """How Windows PowerShell 5.1 puts one argument on a program's command line: wrapped in
    quotes when it has a space, embedded quotes not escaped."""
    return '"%s"' % value if (" " in value or "\t" in value) else value


def test_powershell_quoting_is_literal_and_survives_windows_powershell(coze):
    for value in HOSTILE:
        text = coze.powershell_quote(value)
        if not value or '"' in value or "“" in value or "”" in value or value.endswith("\\"):
            assert text is None, value
            continue
        if text == value:
            assert value and all(c.isalnum() or c in "-_" for c in value), value
            continue
        assert powershell_single_quoted(text) == value, (value, text)
        if "\n" not in value:
            assert crt_argv(windows_powershell_passes(value)) == [value], value


def test_windows_gets_cmd_and_powershell_lines_or_says_why_not(coze):
    lines = coze.printable_commands(["python", "batch", "a.xlsx", "--prompt", "100% 好评"], "win32",
                                    {"cmd": "有百分号", "powershell": "有双引号", "posix": ""})
    assert lines[0].startswith("命令提示符(cmd):") and "无法安全地写成命令(有百分号)" in lines[0]
    assert lines[1] == "PowerShell:python batch 'a.xlsx' --prompt '100% 好评'"
    assert coze.printable_commands(["python", "a b"], "linux", {})[0] == "终端(bash / zsh):python 'a b'"


@pytest.mark.skipif(not find_python("3.7"), reason="Python 3.7 is not installed")
def test_dist_quotes_the_same_on_python37(printer, tmp_path):
    from helpers import DIST
    code = ("import importlib.util, json, sys\n"
            "spec = importlib.util.spec_from_file_location('coze', %r)\n"
            "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
            "print(m._command_line(['python', %r] + json.loads(sys.argv[1]), 'posix'))\n" % (DIST, printer))
    done = subprocess.run([find_python("3.7"), "-c", code, json.dumps(HOSTILE)], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    line = done.stdout.decode("utf-8").strip("\n").replace("python ", sys.executable + " ", 1)
    ran = subprocess.run(["bash", "-c", line], cwd=str(tmp_path), capture_output=True, timeout=30)
    assert json.loads(ran.stdout.decode("utf-8")) == HOSTILE and not (tmp_path / "PWNED").exists()
