"""build.py: a missing module or an import it cannot inline stops the build with a clear
message instead of writing a broken dist/coze.py; internal names become private, and only
where they really refer to the top-level binding."""
import ast
import os
import textwrap

import pytest

import build
import privatize

HEADER = "# 使用提醒:\ntry:\n    import xbot\nexcept Exception:\n    xbot = None\n"


def fake_tree(tmp_path, modules, public=("hello",)):
    """A yingdao_module look-alike in tmp_path; returns (folder, DIST_MODULES for it)."""
    source = tmp_path / "yingdao_module"
    source.mkdir()
    (source / "__init__.py").write_text('__version__ = "9.9"\n__all__ = %r\n' % (list(public),), encoding="utf-8")
    (source / "header.py").write_text(HEADER, encoding="utf-8")
    for name, text in modules.items():
        (source / (name + ".py")).write_text(text, encoding="utf-8")
    return str(source), [(name, name.title()) for name in modules]


GOOD = dict((name, textwrap.dedent(text)) for name, text in {
    "util": '''\
        """Helpers."""
        import json

        LIMIT = 3


        def helper(value):
            return json.dumps(value)[:LIMIT]
        ''',
    "api": '''\
        from .util import helper


        def hello(name):
            """打招呼。

            name   名字
            """
            return helper(name)
        ''',
}.items())


def load(text, tmp_path):
    path = tmp_path / "built.py"
    path.write_text(text, encoding="utf-8")
    namespace = {"__name__": "built"}
    exec(compile(text, str(path), "exec"), namespace)
    return namespace


def test_a_good_tree_builds_and_runs(tmp_path):
    source, modules = fake_tree(tmp_path, GOOD)
    namespace = load(build.build_dist(source, modules), tmp_path)
    assert namespace["hello"]("abcdef") == '"ab'
    assert "_helper" in namespace and "helper" not in namespace and "_LIMIT" in namespace


def test_a_missing_module_stops_the_build(tmp_path):
    source, modules = fake_tree(tmp_path, GOOD)
    with pytest.raises(build.BuildError, match="缺少 .*gone.py"):
        build.build_dist(source, modules + [("gone", "Gone")])


def test_a_syntax_error_stops_the_build_with_the_file_and_line(tmp_path):
    source, modules = fake_tree(tmp_path, dict(GOOD, util=GOOD["util"] + "\n<<<<<<< HEAD\n"))
    with pytest.raises(build.BuildError, match="util.py 第 10 行语法错误"):
        build.build_dist(source, modules)


BROKEN_IMPORTS = [
    ("from .simulator import Simulator", "simulator"),        # a nested package, not a dist module
    ("from .simulator.chat import reply", "simulator"),
    ("from . import util", "import"),                          # a module object: no such thing in dist
    ("from .util import helper as assist", "别名"),             # an alias cannot be inlined
    ("from .util import *", "别名"),
    ("import yingdao_module.util as util", "import"),
    ("from yingdao_module.util import helper", "import"),
    ("from ..other import thing", "import"),
]


@pytest.mark.parametrize("line, words", BROKEN_IMPORTS)
def test_an_import_that_cannot_be_inlined_stops_the_build(tmp_path, line, words):
    modules = dict(GOOD, api=GOOD["api"].replace("from .util import helper", line + "\nfrom .util import helper"))
    source, dist_modules = fake_tree(tmp_path, modules)
    with pytest.raises(build.BuildError) as caught:
        build.build_dist(source, dist_modules)
    assert words in str(caught.value) and "api.py" in str(caught.value)


def test_a_package_import_inside_a_function_stops_the_build(tmp_path):
    modules = dict(GOOD, api=GOOD["api"] + "\n\ndef later():\n    from .util import helper\n    return helper\n")
    source, dist_modules = fake_tree(tmp_path, modules)
    with pytest.raises(build.BuildError, match="顶层"):
        build.build_dist(source, dist_modules)


def test_a_name_defined_twice_stops_the_build(tmp_path):
    modules = dict(GOOD, api=GOOD["api"] + "\nLIMIT = 4\n")
    source, dist_modules = fake_tree(tmp_path, modules)
    with pytest.raises(build.BuildError, match="LIMIT"):
        build.build_dist(source, dist_modules)


def test_a_public_name_that_is_not_defined_stops_the_build(tmp_path):
    source, modules = fake_tree(tmp_path, GOOD, public=("hello", "goodbye"))
    with pytest.raises(build.BuildError, match="goodbye"):
        build.build_dist(source, modules)


def test_the_command_line_says_what_is_wrong_and_exits_1(tmp_path, monkeypatch, capsys):
    source, modules = fake_tree(tmp_path, GOOD)
    monkeypatch.setattr(build, "SOURCE", source)
    monkeypatch.setattr(build, "DIST_MODULES", modules + [("gone", "Gone")])
    monkeypatch.setattr(build, "DIST", str(tmp_path / "dist" / "coze.py"))
    assert build.main(["build"]) == 1
    assert "缺少" in capsys.readouterr().out and not os.path.exists(str(tmp_path / "dist" / "coze.py"))


# ---- privatize: which occurrences are renamed ---------------------------------------------

SHADOWS = '''\
import json

CACHE = {}
WORDS = ("a", "b")


class Thing(object):
    CACHE = "a class attribute of the same name stays"

    def __init__(self, helper=None):
        self.helper = helper or helper_default   # attribute and parameter stay; the global is renamed

    def words(self):
        return [WORDS for WORDS in range(2)] + list(WORDS)   # comprehension variable vs global


def helper_default(value, CACHE=CACHE):   # the parameter stays, its default (the global) is renamed
    CACHE = dict(CACHE)
    return json.dumps({"CACHE": CACHE}, sort_keys=True)   # a string stays


def counter():
    global CACHE
    CACHE = {"n": len(CACHE)}
    return helper_default(value=CACHE)   # keyword argument names stay


def public(WORDS=None):
    """A public function: its parameters keep their names."""
    inner = lambda CACHE: CACHE   # noqa: E731  a lambda parameter stays
    return inner(WORDS) or Thing(helper=helper_default).helper is helper_default
'''


def test_privatize_renames_only_references_to_the_top_level_names():
    text = privatize.privatize(SHADOWS, public=["public"])
    privatize.check_names(text, public=["public"])
    tree = ast.parse(text)
    top = sorted(n.name if hasattr(n, "name") else n.targets[0].id for n in tree.body
                 if not isinstance(n, ast.Import))
    assert top == ["_CACHE", "_Thing", "_WORDS", "_counter", "_helper_default", "public"]
    assert 'CACHE = "a class attribute' in text and "self.helper = helper or _helper_default" in text
    assert "[WORDS for WORDS in range(2)] + list(_WORDS)" in text
    assert "def _helper_default(value, CACHE=_CACHE):" in text and "CACHE = dict(CACHE)" in text
    assert "global _CACHE" in text and "_helper_default(value=_CACHE)" in text and '{"CACHE": CACHE}' in text
    assert "def public(WORDS=None):" in text and "inner = lambda CACHE: CACHE" in text
    assert "_Thing(helper=_helper_default).helper is _helper_default" in text
    namespace = {}
    exec(text, namespace)
    assert namespace["public"]() is True and namespace["_counter"]() == '{"CACHE": {}}'


def test_privatize_handles_names_after_wide_characters_on_the_same_line():
    text = privatize.privatize('LIMIT = 1\nlabel = "中文" + str(LIMIT)\n', public=[])
    assert text == '_LIMIT = 1\n_label = "中文" + str(_LIMIT)\n'


def test_privatize_refuses_a_name_and_its_private_twin():
    with pytest.raises(privatize.BuildError, match="_clients"):
        privatize.privatize("clients = 1\n_clients = 2\n", public=[])


def test_check_names_finds_a_name_that_resolves_to_nothing():
    with pytest.raises(privatize.BuildError, match="missing_helper"):
        privatize.check_names("def public():\n    return missing_helper()\n", public=["public"])


def test_check_names_finds_an_extra_public_name():
    with pytest.raises(privatize.BuildError, match="leaked"):
        privatize.check_names("def public():\n    pass\n\ndef leaked():\n    pass\n", public=["public"])


def test_check_names_refuses_lookups_by_text():
    with pytest.raises(privatize.BuildError, match="globals"):
        privatize.check_names('def public():\n    return globals()["helper"]\n', public=["public"])
