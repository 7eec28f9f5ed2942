"""Server-sent events, parsed by the standard
(https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation):
lines end in CRLF, LF or a bare CR; one optional space after the colon; `:` lines are
comments (keep-alives); `id` and `retry` carry nothing we need; a leading BOM is dropped;
several `data` lines join with a newline; an event is dispatched at a blank line.

One deliberate extension: when the stream ends right after an event whose data is complete
JSON but without the closing blank line, that event still counts (recorded Coze streams of
failed chats end that way). Data cut in the middle of its JSON is a cut, never an event.
"""
import codecs
import json
import re

from .errors import CozeError

_LINE_END = re.compile(r"\r\n|\r|\n")
MAX_EVENT = 32 << 20  # characters in one line or one event's data (a long answer is ~20 MB at most)


def too_long():
    return CozeError("扣子的流式回复里一行或一个事件超过 %d MB 字符,不像是扣子的回复:检查 base_url 和代理设置"
                     "(重试也没用,所以这次没有重试)" % (MAX_EVENT >> 20))


class SseParser(object):
    """Feed text as it arrives, get (event, data) pairs as soon as each event is complete."""

    def __init__(self):
        self._started = False   # the first character (a BOM there is dropped) has been seen
        self._partial = []      # the start of a line whose end has not arrived, in pieces (joined once: linear)
        self._after_cr = False  # the last text ended in "\r": a "\n" starting the next one belongs to it
        self._event = ""
        self._data = []
        self._partial_size = 0  # characters in _partial
        self._data_size = 0     # characters in _data

    def feed(self, text):
        if not self._started and text:
            self._started = True
            if text.startswith("\ufeff"):
                text = text[1:]
        if text:
            if self._after_cr and text.startswith("\n"):
                text = text[1:]
            self._after_cr = text.endswith("\r")
        lines = _LINE_END.split(text)
        if len(lines) == 1:  # no line end yet: keep the piece (a 20 MB line in 8 KB chunks stays linear)
            self._partial.append(text)
            self._partial_size += len(text)
            if self._partial_size + self._data_size > MAX_EVENT:
                raise too_long()
            return
        lines[0] = "".join(self._partial) + lines[0]
        self._partial = [lines.pop()]
        self._partial_size = len(self._partial[0])
        for line in lines:
            event = self._line(line)
            if event is not None:
                yield event

    def finish(self):
        """The stream ended: the last event counts only when its data is complete JSON."""
        partial = "".join(self._partial)
        self._partial = []
        if partial:
            self._line(partial)
        if self._data:
            data = "\n".join(self._data)
            event, self._event, self._data, self._data_size = self._event or "message", "", [], 0
            try:
                json.loads(data)
            except ValueError:
                return
            yield event, data

    def _line(self, line):
        if not line:
            if not self._data:  # no data: nothing to dispatch (the standard's rule)
                self._event = ""
                return None
            event = (self._event or "message", "\n".join(self._data))
            self._event, self._data, self._data_size = "", [], 0
            return event
        if line.startswith(":"):  # a comment / keep-alive
            return None
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "event":
            self._event = value
        elif field == "data":
            self._data.append(value)
            self._data_size += len(value)
            if self._data_size > MAX_EVENT:
                raise too_long()
        return None  # "id", "retry" and unknown fields are ignored


def iter_sse_events(chunks):
    """Yield (event_name, data_text) for every event in an iterable of byte (or text) chunks."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")  # a character may span two chunks
    parser = SseParser()
    for chunk in chunks:
        text = decoder.decode(chunk) if isinstance(chunk, bytes) else chunk
        for event in parser.feed(text):
            yield event
    for event in parser.feed(decoder.decode(b"", True)):
        yield event
    for event in parser.finish():
        yield event


def sse_json(data_text):
    """The JSON payload of an event, or the plain text when it is not JSON ("[DONE]")."""
    try:
        return json.loads(data_text)
    except ValueError:
        return data_text
