"""Nothing of the user's is overwritten through another spelling of the same file: the batch
output, its journal and the report never land on the input, nor the merged file on a shard,
whether spelled through a symlinked folder, a symlink, a hard link or (on Windows) another
letter case. Refused with a Chinese InputError before any chat."""
import os

import pytest

from helpers import BOT_ID as BOT, TOKEN
from sheets import products, write_csv


@pytest.fixture
def table(tmp_path):
    real = tmp_path / "真实文件夹"
    real.mkdir()
    source = write_csv(real / "商品.csv", products(3))
    os.symlink(str(real), str(tmp_path / "链接文件夹"))
    with open(source, "rb") as handle:
        original = handle.read()
    yield tmp_path, source, original
    with open(source, "rb") as handle:
        assert handle.read() == original  # the input was never touched


def spellings(tmp_path, source):
    """Other paths of the same file."""
    os.symlink(source, str(tmp_path / "别名.csv"))
    os.link(source, str(tmp_path / "硬链接.csv"))
    return {"symlinked folder": str(tmp_path / "链接文件夹" / "商品.csv"), "symlink": str(tmp_path / "别名.csv"),
            "hard link": str(tmp_path / "硬链接.csv"),
            "dots": os.path.join(str(tmp_path), "链接文件夹", "..", "真实文件夹", "商品.csv")}


def test_the_output_or_the_report_never_overwrites_the_input(coze, sim, table, quiet_log):
    tmp_path, source, _ = table
    for how, other in spellings(tmp_path, source).items():
        for option in ("output_path", "report_path"):
            with pytest.raises(coze.InputError) as caught:
                coze.batch(source, question_column="商品名", bot_id=BOT, token=TOKEN, base_url=sim.url,
                           **{option: other})
            message = str(caught.value)
            assert "同一个文件" in message and option in message and "输入表格" in message, (how, message)
    assert sim.stats()["chats_created"] == 0


def test_an_input_named_through_a_link_is_protected_too(coze, sim, table, quiet_log):
    tmp_path, source, _ = table
    with pytest.raises(coze.InputError):
        coze.batch(str(tmp_path / "链接文件夹" / "商品.csv"), question_column="商品名", bot_id=BOT, token=TOKEN,
                   base_url=sim.url, output_path=source)
    assert sim.stats()["chats_created"] == 0


def test_the_report_never_overwrites_the_output(coze, sim, table, quiet_log):
    tmp_path, source, _ = table
    with pytest.raises(coze.InputError) as caught:
        coze.batch(source, question_column="商品名", bot_id=BOT, token=TOKEN, base_url=sim.url,
                   output_path=str(tmp_path / "出.csv"), report_path=str(tmp_path / "链接文件夹" / ".." / "出.csv"))
    assert "输出表格" in str(caught.value)


def test_letter_case_counts_where_the_disk_ignores_it(coze, table, monkeypatch):
    """Windows: normcase folds case, so 商品.CSV (not existing yet under that name here) is the input."""
    tmp_path, source, _ = table
    upper = source[:-4] + ".CSV"
    assert not coze.same_file(source, upper)  # this Linux disk tells case apart
    monkeypatch.setattr(os.path, "normcase", lambda path: path.replace("/", "\\").lower())
    assert coze.same_file(source, upper)
    with pytest.raises(coze.InputError):
        coze.BatchOptions(source, coze.batch_defaults(), output_path=upper)


def test_the_merged_file_never_overwrites_a_shard(coze, sim, tmp_path, quiet_log):
    source = write_csv(tmp_path / "in.csv", products(4))
    outputs = [coze.batch(source, question_column="商品名", bot_id=BOT, token=TOKEN, base_url=sim.url,
                          shard="%d/2" % k)["output_path"] for k in (1, 2)]
    with open(outputs[0], "rb") as handle:
        before = handle.read()
    os.symlink(str(tmp_path), str(tmp_path.parent / (tmp_path.name + "_link")))
    alias = os.path.join(str(tmp_path.parent / (tmp_path.name + "_link")), os.path.basename(outputs[0]))
    with pytest.raises(coze.InputError) as caught:
        coze.merge(outputs, output_path=alias)
    assert "分片输出" in str(caught.value)
    with open(outputs[0], "rb") as handle:
        assert handle.read() == before
