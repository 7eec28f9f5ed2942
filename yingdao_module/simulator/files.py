"""File service: POST /v1/files/upload (multipart/form-data, field `file`), parsed by hand;
and GET /_sim/image.png, the picture that answers link to with --image-answers."""
import struct
import time
import zlib



IMAGE_PATH = "/_sim/image.png"


def demo_png(size=8):
    """A small valid PNG (a grey square), made by hand."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
    rows = b"".join(b"\x00" + b"\x80" * size for _ in range(size))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def image_url(sim):
    """The picture on this simulator (a workflow's End output field 图片 with --image-answers)."""
    return sim.url + IMAGE_PATH


def image_link(sim):
    """What an answer says with --image-answers: a markdown image on this simulator."""
    return "![图片](%s)" % image_url(sim)


def uploaded_file_name(content_type, raw):
    """The file name of the `file` field of a multipart body, or None."""
    if "multipart/form-data" not in content_type or "boundary=" not in content_type:
        return None
    boundary = content_type.split("boundary=", 1)[1].strip('"').encode("latin-1")
    name = None
    for part in raw.split(b"--" + boundary):
        head = part.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
        if 'name="file"' in head and "filename=" in head:
            name = head.split('filename="', 1)[1].split('"', 1)[0]
    return name


class FileRoutes(object):
    ROUTES = {("POST", "/v1/files/upload"): "file_upload"}

    def file_upload(self, query, body, raw, fault):
        name = uploaded_file_name(self.headers.get("Content-Type") or "", raw)
        if not name:
            return self.error(4000, "multipart/form-data with a file field is required")
        file_id = self.sim.new_id()
        with self.sim.lock:
            self.sim.files[file_id] = name
        self.ok({"id": file_id, "file_name": name, "bytes": len(raw), "created_at": int(time.time())})
