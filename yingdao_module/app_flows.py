"""The flows of the ShadowBot app this module is pasted into, read from the app's package.json.

A ShadowBot app is a Python package: the pasted module is `<app>.<module>` and sits in the
app folder beside `package.json`, whose `flows` list every flow as
{"name": shown name, "filename": module file, "kind": "Visual" | "Code"}. The code ShadowBot
generates runs a sub-flow by its file name (`xbot_visual.process.run(process="process5",
package=__name__, ...)`); renaming a flow changes only its shown name. Users type the shown
name, so a sub-flow named in `tools` is resolved here, before any chat is paid for.
"""
import json
import os

from .errors import InputError
from .log import log

APP_MANIFEST = "package.json"


def app_location():
    """(this module's import name, its folder): what process.run's `package` needs and where
    the app's package.json is."""
    try:
        folder = os.path.dirname(os.path.abspath(__file__))
    except NameError:  # a module without a file (pasted into an interpreter)
        folder = ""
    return __name__, folder


def app_flows(folder):
    """[(shown name, file name)] of the app in `folder`, or None when `folder` holds no
    package.json (not an app folder)."""
    path = os.path.join(folder, APP_MANIFEST) if folder else ""
    if not path or not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8-sig") as handle:
            manifest = json.load(handle)
    except (OSError, ValueError) as exc:
        raise InputError("读不懂影刀应用的 %s(%s):%s。请在影刀里打开一次这个应用,让它重新保存" % (APP_MANIFEST, path, exc))
    flows = manifest.get("flows") if isinstance(manifest, dict) else None
    return [(str(flow.get("name") or ""), str(flow["filename"])) for flow in (flows or [])
            if isinstance(flow, dict) and isinstance(flow.get("filename"), str) and flow["filename"].strip()]


def subflow_file(tool, given):
    """The file name ShadowBot's process.run needs for the sub-flow `given` (its shown name or
    its file name); a name that is no flow of the app is refused with the app's flows listed."""
    flows = app_flows(app_location()[1])
    if flows is None:
        log("没有找到影刀应用的 %s,按原样运行子流程「%s」(它应该是流程的文件名,例如 process5)" % (APP_MANIFEST, given))
        return given
    for shown, filename in flows:  # the shown name first: it is what users see and type
        if given == shown:
            return filename
    for shown, filename in flows:
        if given == filename:
            return filename
    listing = ";".join("「%s」→ %s" % (shown, filename) for shown, filename in flows) or "(没有流程)"
    raise InputError("tools 里工具「%s」的子流程「%s」不是这个影刀应用里的流程。请填流程列表里显示的名字(或它的文件名)。"
                     "应用里的流程(显示名 → 文件名):%s(还没有调用扣子,没有花钱)" % (tool, given, listing))
