"""Server-sent events: `event:NAME` and `data:...` lines, an event per blank line.

Only complete events are yielded: a stream cut in the middle of an event drops that
half event, so a caller never parses half a JSON object.
"""
import json


def iter_sse_events(lines):
    """Yield (event_name, data_text) for every complete event in an iterable of lines."""
    event, data = None, []
    for line in lines:
        if not line:
            if event is not None or data:
                yield event or "message", "\n".join(data)
            event, data = None, []
            continue
        if line.startswith(":"):  # a comment / keep-alive
            continue
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "event":
            event = value
        elif field == "data":
            data.append(value)
        # "id" and "retry" fields carry nothing we need


def sse_json(data_text):
    """The JSON payload of an event, or the plain text when it is not JSON ("[DONE]")."""
    try:
        return json.loads(data_text)
    except ValueError:
        return data_text
