"""The docs say what the code does, and what they tell users to type works where they type it."""
import glob
import os
import re

from helpers import ROOT

from yingdao_module.shadowbot import STANDALONE_QUESTION


def doc_files():
    return [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))


def test_windows_set_lines_carry_nothing_after_the_value():
    """cmd.exe keeps everything after `=` (a comment, trailing spaces) as part of the value."""
    found = 0
    for path in doc_files():
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                match = re.match(r"^\s*set\s+(COZE_\w+)=(.*?)\n?$", line)
                if match:
                    found += 1
                    value = match.group(2)
                    assert "#" not in value and value == value.strip() and " " not in value, (path, number, line)
    assert found  # the quick start shows them


def test_reference_says_what_main_none_does(coze, quiet_log):
    with open(os.path.join(ROOT, "docs", "reference.md"), encoding="utf-8") as handle:
        reference = handle.read()
    assert STANDALONE_QUESTION in reference and "返回空字符串" in reference
    assert coze.main(None) == ""  # no token anywhere: a Chinese line in the log, no exception
    assert any("独立运行" in line and STANDALONE_QUESTION in line for line in quiet_log)
    assert any("令牌" in line for line in quiet_log)


def test_architecture_names_every_file_of_the_tree():
    """docs/architecture.md describes the tree as it is: each source, template and test file is named."""
    with open(os.path.join(ROOT, "docs", "architecture.md"), encoding="utf-8") as handle:
        architecture = handle.read()
    patterns = ["yingdao_module/*.py", "yingdao_module/simulator/*.py", "flow_templates/*.py", "tests/*.py",
                "tests/benchmarks/*.py", "tests/scripts/*.py", "*.py"]
    missing = []
    for pattern in patterns:
        for path in sorted(glob.glob(os.path.join(ROOT, pattern))):
            name = os.path.basename(path)
            if name not in ("__init__.py", "__main__.py") and not re.search(r"(?<![\w.])%s" % re.escape(name), architecture):
                missing.append(os.path.relpath(path, ROOT))
    assert missing == [], "add these to docs/architecture.md: %s" % missing
