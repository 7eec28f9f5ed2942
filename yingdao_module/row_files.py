"""Files in: the files a batch row sends with its question (files_column).

A cell holds one or more local paths or http(s) URLs, separated by ";" or new lines; a relative
path is relative to the input table's folder. Images go as image parts, other files as file
parts; a URL is sent as the URL (Coze fetches it), a local file is uploaded. Each distinct file
is uploaded once per output (by content hash, per account and server): its file id goes into
`<output>.uploads.jsonl` at once, so a resume never uploads it again. A missing or unreadable
file fails its row only, before any chat, naming the path.
"""
import hashlib
import json
import os
import re
import threading

from .errors import InputError
from .files import IMAGE_EXTENSIONS, MAX_UPLOAD_BYTES
from .ratelimit import account_of

FILE_SEPARATORS = re.compile(r"[;;\r\n]+")
MAX_FILES_PER_ROW = 20


class RowFileError(InputError):
    """A file of one row cannot be sent: that row fails, the others go on."""
    fatal = False


def cell_files(text):
    """The paths and URLs in a cell, in order, without blanks and surrounding quotes."""
    items = [item.strip().strip('"').strip() for item in FILE_SEPARATORS.split(str(text or ""))]
    return [item for item in items if item]


def is_url(item):
    return item.lower().startswith(("http://", "https://"))


def is_image_name(name):
    return name.lower().split("?")[0].endswith(IMAGE_EXTENSIONS)


def content_hash(path):
    """sha256 of a file, read in pieces (a 500 MB video costs no memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class RowFiles(object):
    """Turns a row's files cell into message parts (or workflow parameter values), uploading each
    distinct local file once."""

    def __init__(self, options, client, account):
        self.folder = os.path.dirname(options.input_path)
        self.client, self.account = client, account  # account: a hash naming who uploaded (never the token)
        self.path = options.output_path + ".uploads.jsonl"
        self.lock = threading.Lock()  # one upload at a time: the same file in two rows is uploaded once
        self.known = None

    def local_path(self, item, number):
        path = item if os.path.isabs(item) else os.path.join(self.folder, item)
        if not os.path.isfile(path):
            raise RowFileError("第 %d 行的文件找不到:%s(相对路径从输入表格所在的文件夹算起)" % (number, item))
        if os.path.getsize(path) > MAX_UPLOAD_BYTES:
            raise RowFileError("第 %d 行的文件太大(扣子单个文件最大 512 MB):%s" % (number, item))
        return path

    def parts(self, cell, number):
        """[(kind, value, is_image)]: kind "url" (value the URL) or "id" (an uploaded file's id).
        Every local file is checked before anything is uploaded."""
        items = cell_files(cell)
        if len(items) > MAX_FILES_PER_ROW:
            raise RowFileError("第 %d 行有 %d 个文件,一行最多 %d 个" % (number, len(items), MAX_FILES_PER_ROW))
        found = [(item, None if is_url(item) else self.local_path(item, number)) for item in items]
        parts = []
        for item, path in found:
            if path is None:
                parts.append(("url", item, is_image_name(item)))
            else:
                parts.append(("id", self.file_id(path, item, number), is_image_name(path)))
        return parts

    def message_parts(self, cell, number):
        """The row's files as chat message parts (client.chat's files)."""
        return [{"type": "image" if image else "file", ("file_url" if kind == "url" else "file_id"): value}
                for kind, value, image in self.parts(cell, number)]

    def parameter_value(self, cell, number):
        """The row's files as a workflow parameter: a URL as it is, an upload as {"file_id": ...} text;
        a list when the cell names several."""
        values = [value if kind == "url" else json.dumps({"file_id": value})
                  for kind, value, _ in self.parts(cell, number)]
        return values[0] if len(values) == 1 else values

    def file_id(self, path, item, number):
        try:
            digest = content_hash(path)
        except (IOError, OSError) as err:
            raise RowFileError("第 %d 行的文件读不出来:%s(%s;检查权限,文件是否被其他程序占用)"
                               % (number, item, getattr(err, "strerror", None) or type(err).__name__))
        with self.lock:
            known = self.load()
            if digest in known:
                return known[digest]
            file_id = self.client.upload_file(path)
            known[digest] = file_id
            with open(self.path, "a", encoding="utf-8") as handle:  # at once: a resume finds it
                handle.write(json.dumps({"sha256": digest, "account": self.account, "file_id": file_id}) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            return file_id

    def load(self):
        """{content hash: file id} uploaded earlier by this account (lines torn by a crash skipped)."""
        if self.known is None:
            self.known = {}
            try:
                with open(self.path, "rb") as handle:
                    lines = handle.read().splitlines()
            except (IOError, OSError):
                lines = []
            for line in lines:
                try:
                    record = json.loads(line.decode("utf-8"))
                except ValueError:
                    continue
                if isinstance(record, dict) and record.get("account") == self.account and record.get("file_id"):
                    self.known[record.get("sha256")] = str(record["file_id"])
        return self.known


def account_key(settings):
    """Who uploads (a hash of who signs in, as ratelimit.account_of names it, and the server), never the secret."""
    return hashlib.sha256(("%s\n%s" % (account_of(settings), settings.base_url)).encode("utf-8")).hexdigest()[:16]
