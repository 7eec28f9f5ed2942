"""Long streamed answers are assembled in linear time: pieces are kept in lists and joined
once, never grown with += (which copies the whole text again for every piece). The speed
itself is measured in tests/benchmarks/bench_long_answer.py, not here."""


def test_a_long_line_in_many_chunks_is_kept_in_pieces_until_it_ends(coze):
    parser = coze.SseParser()
    chunks = ["event:conversation.message.completed\ndata:{\"content\":\""] + ["段" * 100] * 500
    for chunk in chunks:
        assert list(parser.feed(chunk)) == []
    assert len(parser._partial) == 501  # the first chunk's tail, then one piece per chunk of the unfinished line: nothing re-copied
    events = list(parser.feed("\"}\n\n"))
    assert events == [("conversation.message.completed", "{\"content\":\"%s\"}" % ("段" * 50000))]
    assert parser._partial == [""]


def test_deltas_are_collected_as_pieces_and_joined_once(coze):
    state = coze.ChatState()
    for number in range(300):
        state.take_message({"id": "m1", "type": "answer", "content": "%d," % number,
                            "reasoning_content": "r%d" % number}, completed=False)
    assert len(state._deltas["m1"]) == 300 and len(state._reasoning_parts) == 300
    assert state.answer == "".join("%d," % n for n in range(300))
    assert state.reasoning == "".join("r%d" % n for n in range(300))
    state.take_message({"id": "m1", "type": "answer", "content": "完整"}, completed=True)
    assert state.answer == "完整"  # the completed message still wins over its deltas


def test_a_stream_split_at_every_byte_gives_the_same_events(coze):
    text = "event:a\r\ndata:{\"x\":\"中文\"}\r\n\r\nevent:b\rdata:1\r\r:keep\ndata:2\n\n"
    whole = list(coze.iter_sse_events([text.encode("utf-8")]))
    raw = text.encode("utf-8")
    assert list(coze.iter_sse_events([raw[i:i + 1] for i in range(len(raw))])) == whole
    assert whole == [("a", "{\"x\":\"中文\"}"), ("b", "1"), ("message", "2")]
