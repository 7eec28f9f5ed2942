"""merge never overwrites a more complete result, and knows a shard whose file name has no .shardKofN
(from the journal beside the output). Source and dist."""
import os

import pytest

from helpers import BOT_ID, TOKEN
from sheets import products, read_csv, write_csv


@pytest.fixture
def shards(coze, sim, tmp_path, quiet_log):
    """Outputs of a 3-way split of 9 rows, named without .shardKofN (as a user's --output would be)."""
    source = write_csv(tmp_path / "in.csv", products(9))
    return [coze.batch(source, question_column="商品名", shard="%d/3" % k, bot_id=BOT_ID, token=TOKEN,
                       base_url=sim.url, output_path=str(tmp_path / ("机器人%d.csv" % k)))["output_path"]
            for k in (1, 2, 3)]


def read_bytes(path):
    with open(path, "rb") as handle:
        return handle.read()


def test_a_missing_shard_is_known_without_shard_in_the_file_names(coze, shards, tmp_path):
    path, problems = coze.merge_shards([shards[0], shards[2]], str(tmp_path / "合并.csv"))
    assert len(read_csv(path)) == 6
    assert any("缺少分片 2/3" in p for p in problems), problems


def test_one_shard_never_overwrites_a_complete_merge(coze, shards, tmp_path):
    complete = str(tmp_path / "合并.csv")
    path, problems = coze.merge_shards(shards, complete)
    assert path == complete and problems == [] and len(read_csv(complete)) == 9
    before = read_bytes(complete)
    with pytest.raises(coze.InputError, match="更完整的合并结果.*少了第") as caught:
        coze.merge_shards([shards[0]], complete)
    assert "output_path" in str(caught.value)
    assert read_bytes(complete) == before
    path, problems = coze.merge_shards(shards, complete)  # the same complete merge again may replace it
    assert path == complete and problems == []


def test_the_default_name_writes_beside_a_complete_merge_and_says_so(coze, sim, tmp_path, quiet_log):
    source = write_csv(tmp_path / "in.csv", products(6))
    outputs = [coze.batch(source, question_column="商品名", shard="%d/2" % k, bot_id=BOT_ID, token=TOKEN,
                          base_url=sim.url)["output_path"] for k in (1, 2)]
    complete = coze.merge(outputs)
    assert os.path.basename(complete) == "in_coze.csv"
    before = read_bytes(complete)
    path, problems = coze.merge_shards([outputs[1]])
    assert os.path.basename(path) == "in_coze_部分合并.csv" and len(read_csv(path)) == 3
    assert read_bytes(complete) == before
    assert any("in_coze.csv 是更完整的合并结果" in p and "in_coze_部分合并.csv" in p for p in problems), problems
    assert any("缺少分片 1/2" in p for p in problems)


def test_merge_refuses_to_write_over_a_shard_or_a_foreign_table(coze, shards, tmp_path):
    with pytest.raises(coze.InputError, match="同一个文件"):
        coze.merge_shards(shards, shards[1])
    foreign = write_csv(tmp_path / "老板的表.csv", [["姓名"], ["张三"]])
    with pytest.raises(coze.InputError, match="不是 merge 的输出"):
        coze.merge_shards(shards, foreign)
    assert read_csv(foreign) == [{"姓名": "张三"}]


def test_merge_cli_names_the_flag(shards, tmp_path):
    from helpers import run_cli
    complete = str(tmp_path / "合并.csv")
    assert run_cli("merge", *shards, "--output", complete).returncode == 0
    out = run_cli("merge", shards[0], "--output", complete)
    assert out.returncode == 1 and "更完整" in out.stderr and "--output" in out.stderr
    assert "output_path" not in out.stderr and "Traceback" not in out.stderr


def test_an_xlsx_merge_is_protected_too(coze, sim, tmp_path, quiet_log):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    for row in products(4):
        book.active.append(row)
    source = str(tmp_path / "商品.xlsx")
    book.save(source)
    outputs = [coze.batch(source, question_column="商品名", shard="%d/2" % k, bot_id=BOT_ID, token=TOKEN,
                          base_url=sim.url, output_path=str(tmp_path / ("台%d.xlsx" % k)))["output_path"]
               for k in (1, 2)]
    complete = str(tmp_path / "合并.xlsx")
    assert coze.merge_shards(outputs, complete) == (complete, [])
    before = read_bytes(complete)
    with pytest.raises(coze.InputError, match="更完整的合并结果"):
        coze.merge_shards([outputs[0]], complete)
    assert read_bytes(complete) == before
    path, problems = coze.merge_shards([outputs[0]], str(tmp_path / "只有第一份.xlsx"))
    assert any("缺少分片 2/2" in p for p in problems)  # known from the journal: no .shardKofN in the names
