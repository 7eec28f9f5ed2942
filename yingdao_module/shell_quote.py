"""Commands we print for a user to paste: each argument quoted for the shell it will be pasted
into, so a file name or prompt holding $( ), backticks, %VAR%, &, |, quotes or a newline is
passed as text and never runs anything. Where a value cannot be quoted safely for a shell, we
say so instead of printing a command for it.

POSIX sh/bash: single quotes keep everything literal (no $, `, \\ or ! expansion inside); a
single quote itself is written '\\'' (close, escaped quote, reopen). Newlines are literal too.

cmd.exe: inside double quotes & | < > ^ ( ) are literal, but %VAR% is still expanded (and !VAR!
with delayed expansion), and there is no way to escape % or " inside quotes that also survives
the C runtime's argv parsing; a newline ends the command. So a value with % ! " or a line break
cannot be pasted into cmd: we say so. Backslashes are literal to the C runtime except before a
quote, so the ones ending a value are doubled before the closing quote.

PowerShell: single-quoted strings are literal ($, `, ; & | are text); a single quote inside is
doubled, and PowerShell also takes the typographic quotes ‘ ’ ‚ ‛ as single quotes, so those
are doubled too. Windows PowerShell 5.1 passes an argument holding " to a program without
escaping it (the program sees it split), one ending in a backslash followed by the quote it
adds, and drops an empty argument: such values are refused rather than mangled.
"""
import re

SHELL_NAMES = {"posix": "终端(bash / zsh)", "cmd": "命令提示符(cmd)", "powershell": "PowerShell"}
_POSIX_PLAIN = re.compile(r"^[A-Za-z0-9_@%+=:,./-]+$")  # nothing a POSIX shell would interpret
_CMD_REFUSED = re.compile(r"[%!\"\x00-\x08\x0a-\x1f]")  # a tab is kept inside quotes; a line break ends the command
_PS_SINGLE_QUOTES = re.compile("(['\u2018\u2019\u201a\u201b])")
_WINDOWS_PLAIN = re.compile(r"^-{0,2}[A-Za-z][A-Za-z0-9_-]*$")  # flags and words like batch: left as typed


def posix_quote(value):
    """One argument for sh / bash / zsh: always possible."""
    if value and _POSIX_PLAIN.match(value):
        return value
    return "'" + value.replace("'", "'\\''") + "'"


def cmd_quote(value):
    """One argument for cmd.exe, or None when it cannot be pasted there safely."""
    if _WINDOWS_PLAIN.match(value):
        return value
    if _CMD_REFUSED.search(value):
        return None
    trailing = len(value) - len(value.rstrip("\\"))
    return '"' + value + "\\" * trailing + '"'


def powershell_quote(value):
    """One argument for PowerShell, or None when Windows PowerShell would pass it on mangled."""
    if not value or '"' in value or "\u201c" in value or "\u201d" in value or value.endswith("\\") or "\x00" in value:
        return None
    if _WINDOWS_PLAIN.match(value):
        return value
    return "'" + _PS_SINGLE_QUOTES.sub(r"\1\1", value) + "'"


QUOTERS = {"posix": posix_quote, "cmd": cmd_quote, "powershell": powershell_quote}


def command_line(args, shell):
    """The command line for `shell` ("posix", "cmd", "powershell"), or None when one of the
    arguments cannot be quoted safely for it. The first argument (the program) is a plain word."""
    quoted = [args[0]]
    for value in args[1:]:
        text = QUOTERS[shell](str(value))
        if text is None:
            return None
        quoted.append(text)
    return " ".join(quoted)


def shells_here(platform_name):
    """The shells a user on this platform pastes into: cmd and PowerShell on Windows, else POSIX."""
    return ("cmd", "powershell") if platform_name.startswith("win") else ("posix",)


def printable_commands(args, platform_name, reason_unquotable):
    """Lines to show: for each shell of the platform, '<shell>:<command>' or why there is none."""
    lines = []
    for shell in shells_here(platform_name):
        line = command_line(args, shell)
        lines.append("%s:%s" % (SHELL_NAMES[shell], line) if line is not None else
                     "%s:无法安全地写成命令(%s)" % (SHELL_NAMES[shell], reason_unquotable[shell]))
    return lines
