"""The simulator over raw HTTP, no client code of ours: one call, a chat body, the events of a stream."""
import http.client
import json
import urllib.error
import urllib.request

from helpers import BOT_ID as BOT


def call(sim, method, path, body=None, token="pat_raw", content_type="application/json", raw=None):
    """(status, headers, parsed body or raw bytes) for one request."""
    data = raw if raw is not None else (json.dumps(body).encode("utf-8") if body is not None else None)
    headers = {"Content-Type": content_type} if data is not None else {}
    if token:
        headers["Authorization"] = "Bearer " + token
    request = urllib.request.Request(sim.url + path, data=data, headers=headers, method=method)
    try:
        resp = urllib.request.urlopen(request, timeout=10)
    except urllib.error.HTTPError as err:
        resp = err
    try:
        payload = resp.read()
    except http.client.IncompleteRead as cut:  # a stream ended mid-answer: keep what came
        payload = cut.partial
    try:
        payload = json.loads(payload.decode("utf-8"))
    except ValueError:
        pass
    return resp.getcode(), resp.headers, payload


def chat_body(question="你好", stream=False, **extra):
    body = {"bot_id": BOT, "user_id": "u1", "stream": stream, "auto_save_history": True,
            "additional_messages": [{"role": "user", "content": question, "content_type": "text"}]}
    body.update(extra)
    return body


def events_of(sim, body, path="/v3/chat"):
    """The (event, data) pairs of a streamed response, read line by line."""
    status, headers, payload = call(sim, "POST", path, body)
    assert "text/event-stream" in headers["Content-Type"], payload
    events, name = [], None
    for line in payload.decode("utf-8").split("\n"):
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            text = line[5:].strip()
            try:
                events.append((name, json.loads(text)))
            except ValueError:
                events.append((name, text))
    return events
