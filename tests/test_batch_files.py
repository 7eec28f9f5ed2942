"""Files in and out of a batch: a files column (paths relative to the table, URLs, images as
images, each file uploaded once per output, a missing one fails its row only) and download=True
(what answers link to, saved under hostile servers: trickle, endless body, redirects to another
host, names like ../../x or CON.png)."""
import json
import os

import pytest

from helpers import BOT_ID as BOT, TOKEN
from rawserver import RawServer, chunk, reply
from sheets import read_csv, write_csv
from yingdao_module.downloads import Downloader, DownloadFailed, answer_links, safe_name
from yingdao_module.row_files import RowFiles
from yingdao_module.simulator import Simulator
from yingdao_module.simulator.files import demo_png

WORKFLOW = "7402000000000000001"


def files_table(tmp_path):
    (tmp_path / "图").mkdir()
    (tmp_path / "图" / "a.png").write_bytes(demo_png())
    (tmp_path / "说明.txt").write_text("同一份说明", encoding="utf-8")
    return write_csv(tmp_path / "in.csv", [
        ["商品名", "附件"],
        ["甲", "图/a.png; 说明.txt"],
        ["乙", "说明.txt\nhttps://example.com/pic/b.jpg"],
        ["丙", "图/没有这个.png"],
        ["丁", ""]])


def test_files_column_uploads_each_file_once_and_a_missing_one_fails_its_row(coze, sim, tmp_path):
    source = files_table(tmp_path)
    summary = coze.batch(source, prompt="介绍{商品名}", files_column="附件", bot_id=BOT, token=TOKEN, base_url=sim.url)
    rows = read_csv(summary["output_path"])
    assert "a.png" in rows[0]["回答"] and "说明.txt" in rows[0]["回答"]  # the bot received both
    assert "说明.txt" in rows[1]["回答"] and "b.jpg" in rows[1]["回答"]     # a URL is sent as the URL
    assert rows[2]["状态"] == "失败" and "图/没有这个.png" in rows[2]["错误"]   # names the path, asks nothing
    assert rows[3]["状态"] == "成功"
    stats = sim.stats()
    assert stats["files"] == 2 and stats["chats_created"] == 3  # 说明.txt in two rows: uploaded once
    again = coze.batch(source, prompt="介绍{商品名}", files_column="附件", bot_id=BOT, token=TOKEN, base_url=sim.url,
                       restart=True)  # every row asked again: the uploads are remembered
    assert again["done"] == 3 and sim.stats()["files"] == 2


def test_images_go_as_images_files_as_files(tmp_path):
    source = files_table(tmp_path)
    uploads = []

    class Client(object):
        def upload_file(self, path):
            uploads.append(os.path.basename(path))
            return str(7000 + len(uploads))

    class Options(object):
        input_path, output_path = source, str(tmp_path / "out.csv")
    files = RowFiles(Options(), Client(), "acct")
    parts = files.message_parts("图/a.png;说明.txt;https://x.test/b.JPG?x=1;https://x.test/c.pdf", 2)
    assert parts == [{"type": "image", "file_id": "7001"}, {"type": "file", "file_id": "7002"},
                     {"type": "image", "file_url": "https://x.test/b.JPG?x=1"},
                     {"type": "file", "file_url": "https://x.test/c.pdf"}]
    assert files.parameter_value("图/a.png", 2) == json.dumps({"file_id": "7001"})  # for a workflow parameter
    assert uploads == ["a.png", "说明.txt"]
    assert RowFiles(Options(), Client(), "acct").message_parts("图/a.png", 3)[0]["file_id"] == "7001"  # a resume
    assert RowFiles(Options(), Client(), "other").message_parts("图/a.png", 3)[0]["file_id"] == "7003"  # another account


def test_download_saves_what_answers_link_to(coze, tmp_path):
    source = write_csv(tmp_path / "in.csv", [["商品名"], ["甲"], ["乙"]])
    with Simulator(latency=0.02, image_answers=True) as sim:
        summary = coze.batch(source, question_column="商品名", download=True, bot_id=BOT, token=TOKEN,
                             base_url=sim.url)
    rows = read_csv(summary["output_path"])
    folder = str(tmp_path / "in_coze_文件")
    paths = [row["文件"] for row in rows]
    assert all(os.path.dirname(path) == folder for path in paths) and len(set(paths)) == 2  # no overwrite
    assert all(open(path, "rb").read() == demo_png() for path in paths)
    assert sorted(os.listdir(folder)) == ["image (2).png", "image.png"]


def test_a_download_that_cannot_be_saved_keeps_the_answer(coze, tmp_path, monkeypatch):
    """The disk refuses the downloaded file (full): every row keeps its paid answer, the problem is
    noted in 错误, nothing raises out of the row."""
    def disk_full(self, response, name, ends):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(coze.Downloader, "write", disk_full)
    source = write_csv(tmp_path / "in.csv", [["商品名"], ["甲"], ["乙"], ["丙"]])
    with Simulator(latency=0.02, image_answers=True) as sim:
        summary = coze.batch(source, question_column="商品名", download=True, bot_id=BOT, token=TOKEN,
                             base_url=sim.url, concurrency=3)
        paid = sim.stats()["chats_created"]
    rows = read_csv(summary["output_path"])
    assert summary["done"] == 3 and paid == 3
    assert [row["状态"] for row in rows] == ["成功"] * 3 and all(row["回答"] for row in rows)
    assert all("没有存成" in row["错误"] and "No space" in row["错误"] and not row["文件"] for row in rows)


def test_rows_downloading_at_once_share_a_new_folder(tmp_path):
    """Several rows make the downloads folder at the same moment: none of them fails for it."""
    import threading
    folder = str(tmp_path / "新文件夹")
    with RawServer({"/a.png": [reply(200, "image/png", demo_png())]}) as server:
        downloader = Downloader(folder, trusted=["127.0.0.1"])
        results = []
        start = threading.Barrier(8)

        def one():
            start.wait()
            results.append(downloader.save_all(["![](%s/a.png)" % server.url]))
        threads = [threading.Thread(target=one) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    assert [problems for _, problems in results] == [[]] * 8
    assert len(set(path for saved, _ in results for path in saved)) == 8


def test_download_from_workflow_outputs(tmp_path):
    import yingdao_module as coze
    source = write_csv(tmp_path / "in.csv", [["城市"], ["杭州"]])
    with Simulator(latency=0.02, image_answers=True) as sim:
        summary = coze.batch(source, workflow_id=WORKFLOW, download=True, token=TOKEN, base_url=sim.url)
    row = read_csv(summary["output_path"])[0]
    assert row["图片"].endswith("/_sim/image.png") and open(row["文件"], "rb").read() == demo_png()


def test_downloads_folder_never_holds_the_input(tmp_path):
    import yingdao_module as coze
    folder = tmp_path / "out_文件"
    folder.mkdir()
    source = write_csv(folder / "in.csv", [["商品名"], ["甲"]])
    with pytest.raises(coze.InputError) as caught:
        coze.batch(source, question_column="商品名", download=True, output_path=str(tmp_path / "out.csv"),
                   bot_id=BOT, token=TOKEN, base_url="http://127.0.0.1:9")
    assert "输入表格" in str(caught.value)


# ---- hostile servers --------------------------------------------------------------------------------

PNG = reply(200, "image/png", demo_png())
LOOPBACK = ["127.0.0.1"]  # the raw servers listen there: trusted as if it were the API host


def test_a_trickle_stops_at_the_deadline(tmp_path):
    head = reply(200, "image/png", None, length=False)
    with RawServer({"/slow.png": [[head] + [b"x", 0.2] * 100]}) as server:
        with pytest.raises(DownloadFailed) as caught:
            Downloader(str(tmp_path), deadline=1.0, trusted=LOOPBACK).save(server.url + "/slow.png")
    assert "超过 1 秒" in str(caught.value) and os.listdir(str(tmp_path)) == []  # the partial file removed


def test_an_endless_body_stops_at_the_size_limit(tmp_path):
    head = reply(200, "image/png", None, length=False)
    with RawServer({"/big.png": [[head] + [b"x" * 65536] * 40]}) as server:
        with pytest.raises(DownloadFailed) as caught:
            Downloader(str(tmp_path), limit=1024 * 1024, trusted=LOOPBACK).save(server.url + "/big.png")
    assert "上限" in str(caught.value) and os.listdir(str(tmp_path)) == []


def test_redirects_to_another_host_never_carry_a_token_and_are_bounded(tmp_path):
    with RawServer({"/pic": [[PNG]]}) as other:
        moved = reply(302, "text/plain", "", headers={"Location": other.url + "/pic"})
        loop = reply(302, "text/plain", "", headers={"Location": "/loop"})
        with RawServer({"/start": [[moved]], "/loop": [[loop]]}) as first:
            path = Downloader(str(tmp_path), trusted=LOOPBACK).save(first.url + "/start")
            assert open(path, "rb").read() == demo_png() and path.endswith("pic.png")
            with pytest.raises(DownloadFailed) as caught:
                Downloader(str(tmp_path), trusted=LOOPBACK).save(first.url + "/loop")
            assert "重定向" in str(caught.value) and first.paths().count("/loop") == 4  # the first and 3 more
            asked = first.requests + other.requests
    assert all("authorization" not in request.headers for request in asked)


@pytest.mark.parametrize("disposition, url_path, saved", [
    ('attachment; filename="../../x.png"', "/a", "x.png"),
    ('attachment; filename="CON.png"', "/a", "_CON.png"),
    ("attachment; filename*=UTF-8''%E5%9B%BE%2F..%2Fnul.txt", "/a", "_nul.png"),
    ("", "/dir/CON.png", "_CON.png"),
    ("", "/dir/..%2F..%2Fevil.exe", "evil.png"),
    ('attachment; filename="a<b>|c?.png"', "/a", "a_b__c_.png"),
])
def test_hostile_names_stay_in_the_folder(tmp_path, disposition, url_path, saved):
    headers = {"Content-Disposition": disposition} if disposition else {}
    with RawServer({url_path: [[reply(200, "image/png", demo_png(), headers=headers)]]}) as server:
        path = Downloader(str(tmp_path / "dl"), trusted=LOOPBACK).save(server.url + url_path)
    assert os.path.dirname(path) == str(tmp_path / "dl") and os.path.basename(path) == saved
    assert os.listdir(str(tmp_path)) == ["dl"]


def test_names_are_bounded_and_links_found():
    assert len(safe_name("长" * 500 + ".png")) <= 80 and safe_name("..") == "文件" and safe_name("COM1.txt") == "_COM1.txt"
    text = "看图 ![图](https://a.test/x.png)、链接 [说明](http://b.test/y.pdf)。还有 https://c.test/z。ftp://d.test/w"
    assert answer_links(text) == ["https://a.test/x.png", "http://b.test/y.pdf", "https://c.test/z"]


def test_a_failed_download_is_noted_without_failing_the_answer(coze, tmp_path):
    """A link to a private address (not the API host) is not fetched; the row stays a success."""
    source = write_csv(tmp_path / "in.csv", [["问题"], ["看 http://10.0.0.1/a.png 和 http://localhost:9/b.png"]])
    with Simulator(latency=0.02) as sim:
        summary = coze.batch(source, download=True, bot_id=BOT, token=TOKEN, base_url=sim.url)
    row = read_csv(summary["output_path"])[0]
    assert row["状态"] == "成功" and row["文件"] == ""
    assert "10.0.0.1,不下载" in row["错误"] and "localhost,不下载" in row["错误"]


def test_a_redirect_into_the_office_network_is_refused(tmp_path):
    with RawServer({"/pic": [[PNG]]}) as inner:
        moved = reply(302, "text/plain", "", headers={"Location": inner.url.replace("127.0.0.1", "localhost") + "/pic"})
        with RawServer({"/start": [[moved]]}) as first:
            with pytest.raises(DownloadFailed) as caught:
                Downloader(str(tmp_path), trusted=LOOPBACK).save(first.url + "/start")
        assert "内网" in str(caught.value) and inner.requests == []


def test_simulator_image_answers_and_file_urls_through_the_official_sdk():
    """serve --image-answers: answers (and End outputs) link to a PNG the simulator serves; a
    message part with file_url reaches the bot. Driven by cozepy."""
    cozepy = pytest.importorskip("cozepy")
    import argparse
    import urllib.request
    from yingdao_module.simulator.cli import add_serve_arguments, simulator_from
    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    sim = simulator_from(parser.parse_args(["--image-answers", "--latency", "0.05"])).start()
    try:
        coze = cozepy.Coze(auth=cozepy.TokenAuth("pat_sdk"), base_url=sim.url)
        message = cozepy.Message.build_user_question_objects([
            cozepy.MessageObjectString.build_text("看看这张图"),
            cozepy.MessageObjectString.build_image(file_url="https://cdn.example.com/p/商品.png")])
        poll = coze.chat.create_and_poll(bot_id=BOT, user_id="u", additional_messages=[message])
        answer = [m.content for m in poll.messages if m.type == cozepy.MessageType.ANSWER][0]
        assert "商品.png" in answer  # the file_url part reached the bot
        link = answer_links(answer)[0]
        assert link == sim.url + "/_sim/image.png"
        assert urllib.request.urlopen(link, timeout=5).read() == demo_png()
        result = coze.workflows.runs.create(workflow_id="7401", parameters={"k": "v"})
        assert json.loads(result.data) == {"output": {"k": "v"}, "图片": link}
    finally:
        sim.stop()


def test_a_cut_chunked_body_or_a_garbage_status_line_is_noted_in_the_row(coze, tmp_path):
    """http.client's own errors (IncompleteRead, BadStatusLine) are neither OSError nor
    DownloadFailed: they are noted in the row like any failed download, the paid answer stays."""
    cut = [reply(200, "image/png", None, chunked=True), chunk(b"x" * 100)]  # closed before the last chunk
    with RawServer({"/cut.png": [cut], "/bad.png": [[b"GARBAGE\r\n\r\n"]]}) as files:
        with pytest.raises(DownloadFailed):
            Downloader(str(tmp_path), trusted=LOOPBACK).save(files.url + "/cut.png")
        with pytest.raises(DownloadFailed):
            Downloader(str(tmp_path), trusted=LOOPBACK).save(files.url + "/bad.png")
        question = "看 %s/cut.png 和 %s/bad.png" % (files.url, files.url)
        source = write_csv(tmp_path / "in.csv", [["问题"], [question]])
        with Simulator(latency=0.02) as sim:  # on 127.0.0.1 too: the links' host is the API host's
            summary = coze.batch(source, download=True, bot_id=BOT, token=TOKEN, base_url=sim.url)
            paid = sim.stats()["chats_created"]
    row = read_csv(summary["output_path"])[0]
    assert summary["done"] == 1 and paid == 1
    assert row["状态"] == "成功" and row["回答"] and row["文件"] == ""
    assert "cut.png" in row["错误"] and "bad.png" in row["错误"] and "下载失败" in row["错误"]
