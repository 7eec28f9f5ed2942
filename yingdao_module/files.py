"""Files: upload a local file, and put files next to a question in a chat message."""
import json
import os

from .errors import InputError
from .transport import id_of

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff", ".heic")
MAX_UPLOAD_BYTES = 512 * 1024 * 1024  # Coze's documented upload limit


def multipart_body(path):
    """(body bytes, content type) for a multipart/form-data upload of one file, field `file`."""
    import mimetypes  # on first use: importing the module stays fast
    import uuid  # on first use: importing the module stays fast
    try:
        size = os.path.getsize(path)
        if size > MAX_UPLOAD_BYTES:
            raise InputError("文件太大(%.0f MB):扣子单个文件最大 512 MB:%s" % (size / 1048576.0, path))
        with open(path, "rb") as handle:
            content = handle.read()
    except (IOError, OSError):
        raise InputError("读不到文件:%s(检查路径和权限,文件是否被其他程序占用)" % path)
    boundary = "----yingdaoCoze" + uuid.uuid4().hex
    name = os.path.basename(path).replace('"', "_")
    mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
    head = ('--%s\r\nContent-Disposition: form-data; name="file"; filename="%s"\r\nContent-Type: %s\r\n\r\n'
            % (boundary, name, mime)).encode("utf-8")
    tail = ("\r\n--%s--\r\n" % boundary).encode("ascii")
    return head + content + tail, "multipart/form-data; boundary=" + boundary


def upload(transport, path, deadline=None):
    """Upload one file; returns its Coze file id."""
    body, content_type = multipart_body(path)
    envelope = transport.call("POST", "/v1/files/upload", body=body, content_type=content_type,
                              deadline=deadline, what="上传文件")
    return id_of(envelope, "上传文件")


def message_with_files(question, file_refs):
    """A user message; with files it becomes an object_string list of text + file parts.

    `file_refs` is a list of (file_id, file_name_or_None).
    """
    if not file_refs:
        return {"role": "user", "type": "question", "content": question, "content_type": "text"}
    parts = [{"type": "text", "text": question}]
    for file_id, name in file_refs:
        if isinstance(file_id, dict):  # a part made by the caller (batch files: an image by id or URL)
            parts.append(file_id)
            continue
        is_image = bool(name) and name.lower().endswith(IMAGE_EXTENSIONS)
        parts.append({"type": "image" if is_image else "file", "file_id": file_id})
    return {"role": "user", "type": "question", "content": json.dumps(parts, ensure_ascii=False),
            "content_type": "object_string"}
