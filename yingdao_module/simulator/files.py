"""File service: POST /v1/files/upload (multipart/form-data, field `file`), parsed by hand."""
import time



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
