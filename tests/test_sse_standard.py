"""The event-stream parser against Coze-shaped streams, each re-framed every way the SSE
standard allows: the parse must not change. Runs on the source package and on dist/coze.py.

Two sets of streams: our own, written here in the shapes Coze sends (always run), and the
recordings in the official SDK's test data (github coze-dev/coze-py, tests/testdata/), which
are not part of this repository: they are looked up at run time in $COZE_SDK_TESTDATA/coze-py
or ../shared/testdata/coze-py next to the repository, and those tests skip when absent."""
import json
import random

import pytest

from helpers import sdk_recording
from sse_streams import OWN_STREAMS

# what each stream holds: event names in order (checked independently of the parser)
EXPECTED_EVENTS = {
    "own chat": ["conversation.chat.created", "conversation.chat.in_progress"] + ["conversation.message.delta"] * 2
    + ["conversation.message.completed"] * 2 + ["conversation.chat.completed", "done"],
    "own failed chat": ["conversation.chat.failed"],
    "own error": ["error"],
    "own workflow": ["Message", "Message", "PING", "Done"],
    "own chatflow": ["conversation.chat.created", "conversation.message.delta", "conversation.message.completed",
                     "conversation.chat.completed", "done"],
    "chat_text_stream_resp.txt": ["conversation.chat.created", "conversation.chat.in_progress"]
    + ["conversation.message.delta"] * 4 + ["conversation.message.completed", "conversation.chat.completed", "done"],
    "chat_failed_resp.txt": ["conversation.chat.failed"],
    "chat_error_resp.txt": ["error"],
    "chat_invalid_resp.txt": ["invalid"],
    "workflow_run_invalid_stream_resp.txt": ["invalid"],
    "workflow_run_stream_resp.txt": ["Message"] * 6 + ["Error", "Message", "Interrupt", "Done"],
    "workflows_chat_stream_resp.txt": ["conversation.chat.created", "conversation.chat.in_progress"]
    + ["conversation.message.delta"] * 3 + ["conversation.message.completed"] * 2
    + ["conversation.chat.completed", "done"],
}
STREAMS = sorted(EXPECTED_EVENTS)


def recording(name):
    """One of our own streams, or an SDK recording (the test skips when it is not on this machine)."""
    if name in OWN_STREAMS:
        return OWN_STREAMS[name]
    return sdk_recording(name)


def parse(coze, chunks):
    return [(event, coze.sse_json(data)) for event, data in coze.iter_sse_events(chunks)]


def lines_of(text):
    return text.split("\n")


def with_line_end(text, end):
    return text.replace("\n", end)


def without_space(text):
    return "\n".join(line.replace(": ", ":", 1) if line[:1] not in ("", ":") else line for line in lines_of(text))


def with_space(text):
    out = []
    for line in lines_of(text):
        field, colon, value = line.partition(":")
        out.append(line if not colon or not field or value.startswith(" ") else field + ": " + value)
    return "\n".join(out)


def with_comments(text):
    out = [": connected"]
    for line in lines_of(text):
        out.append(line)
        if line.startswith("event"):
            out.append(":keep-alive")  # a comment in the middle of an event
    return "\n".join(out)


def with_ids_and_retry(text):
    out = ["retry: 3000"]
    for i, line in enumerate(lines_of(text)):
        if line.startswith("event"):
            out.append("id: %d" % i)
        out.append(line)
    return "\n".join(out)


def with_split_data(text):
    """Every JSON object's data split over several data: lines (the standard joins them with \\n)."""
    out = []
    for line in lines_of(text):
        field, colon, value = line.partition(":")
        if field == "data" and value.strip().startswith("{") and '","' in value:
            out.extend("data:" + piece for piece in value.replace('","', '",\n"').split("\n"))
        else:
            out.append(line)
    return "\n".join(out)


REFRAMINGS = {
    "as recorded": lambda t: t,
    "CRLF": lambda t: with_line_end(t, "\r\n"),
    "bare CR": lambda t: with_line_end(t, "\r"),
    "no space after colon": without_space,
    "one space after colon": with_space,
    "comments": with_comments,
    "id and retry": with_ids_and_retry,
    "BOM": lambda t: "\ufeff" + t,
    "closing blank line": lambda t: t + "\n\n",
    "multi-line data": with_split_data,
    "everything, CRLF": lambda t: "\ufeff" + with_line_end(with_ids_and_retry(with_comments(without_space(t))), "\r\n"),
    "everything, CR": lambda t: "\ufeff" + with_line_end(with_split_data(with_comments(with_space(t))), "\r") + "\r\r",
}


def tiny_chunks(data, seed):
    """`data` (bytes) cut into pieces of 1-3 bytes: splits CRLF pairs and UTF-8 characters."""
    rng = random.Random(seed)
    pieces, i = [], 0
    while i < len(data):
        size = rng.randint(1, 3)
        pieces.append(data[i:i + size])
        i += size
    return pieces


@pytest.mark.parametrize("name", STREAMS)
def test_the_recording_parses_to_its_events(coze, name):
    events = parse(coze, [recording(name).encode("utf-8")])
    assert [event for event, _ in events] == EXPECTED_EVENTS[name]
    assert all(isinstance(data, (dict, str)) for _, data in events)


@pytest.mark.parametrize("name", STREAMS)
@pytest.mark.parametrize("how", sorted(REFRAMINGS))
def test_every_standard_framing_parses_the_same(coze, name, how):
    expected = parse(coze, [recording(name).encode("utf-8")])
    text = REFRAMINGS[how](recording(name))
    if text == recording(name) and how != "as recorded":
        pytest.skip("this recording is already framed that way")
    data = text.encode("utf-8")
    assert parse(coze, [data]) == expected
    for seed in range(3):
        assert parse(coze, tiny_chunks(data, seed)) == expected


@pytest.mark.parametrize("name", ["own failed chat", "chat_failed_resp.txt"])
def test_a_failed_chat_stream_ends_without_a_blank_line_and_still_counts(coze, name):
    text = recording(name)
    assert not text.endswith("\n")  # what makes this recording hard
    [(event, data)] = parse(coze, [text.encode("utf-8")])
    assert event == "conversation.chat.failed" and data["last_error"]["code"] == 5000


@pytest.mark.parametrize("name", ["own chat", "chat_text_stream_resp.txt"])
def test_a_cut_inside_the_json_is_not_an_event(coze, name):
    text = recording(name)
    cut = text[:text.index('"status":"in_progress"')]  # inside the second event's JSON
    events = parse(coze, [cut.encode("utf-8")])
    assert [event for event, _ in events] == ["conversation.chat.created"]


def test_standard_details(coze):
    stream = ("data\n\n"                    # a field name alone: data is empty, still an event
              "event: ping\n\n"             # no data: nothing dispatched
              "data:  two spaces\n\n"       # only one space is removed
              "unknown: field\ndata:x\n\n"  # unknown fields are ignored
              "data:a\ndata:b\n\n")         # data lines join with \n
    got = list(coze.iter_sse_events([stream.encode("utf-8")]))
    assert got == [("message", ""), ("message", " two spaces"), ("message", "x"), ("message", "a\nb")]


def test_a_bom_only_counts_at_the_start(coze):
    got = list(coze.iter_sse_events([b"\xef\xbb", b"\xbfevent:a\ndata:{}\n\n\xef\xbb\xbfevent:b\ndata:{}\n\n"]))
    assert got[0] == ("a", "{}")
    assert got[1][0] == "message" and len(got) == 2  # "\ufeffevent" is an unknown field


def test_workflow_output_stays_a_json_string(coze):
    events = parse(coze, [recording("own workflow").encode("utf-8")])
    assert json.loads(events[1][1]["content"]) == {"output": "结果"}
