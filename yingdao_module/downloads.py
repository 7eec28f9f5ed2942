"""Files out: the images and files an answer links to, saved next to the output (download=True).

Links are markdown images and links and bare URLs, http(s) only. Every download is bounded: a
size limit counted while reading (a server that lies about, or never states, its length stops
at the limit), a deadline for the whole download (a server that trickles stops at it), at most
DOWNLOAD_REDIRECTS redirects. Downloads never carry the token, to any host, the API host included:
answer links are public or signed URLs, and a link in an answer is untrusted text. A saved
name has no folder parts, no "..", no Windows-reserved name or character, a bounded length,
the extension of the content type, and never replaces an existing file (a new suffix instead).
A failed download is noted in the row; the answer itself stays a success. A link (or a
redirect) to a loopback, private or link-local address is not fetched unless its host is the
API host: an answer must not make the robot's machine call into its office network.
"""
import http.client
import ipaddress
import mimetypes
import os
import re
import socket
import time

import urllib.error
import urllib.parse
import urllib.request

DOWNLOAD_LIMIT = 50 * 1024 * 1024   # bytes per file
DOWNLOAD_DEADLINE = 60.0            # seconds per file, headers and body together
DOWNLOAD_REDIRECTS = 3
DOWNLOAD_MAX_LINKS = 20                      # per answer
DOWNLOAD_NAME_LIMIT = 80                     # characters of a saved name, extension included
# raw CJK ends a bare URL; no re.I: folding would let the range swallow "s", "k" (ſ, K)
LINK = re.compile(r"(?:[Hh][Tt][Tt][Pp][Ss]?)://[^\s<>\"'()\[\]{}\u0080-\uffff]+")
TRAILING = ".,;:!?。,;:!?、)"
WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9]|conin\$|conout\$)$", re.I)
UNSAFE_CHARACTERS = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')
KNOWN_EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp",
                    "image/svg+xml": ".svg", "application/pdf": ".pdf", "text/plain": ".txt",
                    "text/csv": ".csv", "application/zip": ".zip", "audio/mpeg": ".mp3", "video/mp4": ".mp4"}


class DownloadFailed(Exception):
    """One link could not be saved; its text (Chinese) goes into the row."""


def answer_links(text):
    """The http(s) URLs in an answer, in order, each once (markdown ![](url), [](url) and bare URLs)."""
    found = []
    for match in LINK.finditer(text or ""):
        url = match.group(0).rstrip(TRAILING)
        if url not in found:
            found.append(url)
    return found[:DOWNLOAD_MAX_LINKS]


def safe_name(name, extension=""):
    """A file name that is only a name on every system: no folders, no "..", no reserved names."""
    name = urllib.parse.unquote(str(name or "")).replace("\\", "/").split("/")[-1]
    name = UNSAFE_CHARACTERS.sub("_", name).strip(" .")
    stem, ext = os.path.splitext(name)
    if extension:
        ext = extension
    elif not re.match(r"^\.[A-Za-z0-9]{1,8}$", ext or ""):
        ext = ".bin" if ext else ""
    stem = stem.strip(" .") or "文件"
    if WINDOWS_RESERVED.match(stem.split(".")[0]):
        stem = "_" + stem
    return stem[:max(1, DOWNLOAD_NAME_LIMIT - len(ext))] + ext


def disposition_name(header):
    """The file name in a Content-Disposition header (filename* first), or ""."""
    header = header or ""
    starred = re.search(r"filename\*\s*=\s*(?:[\w-]+)?'[^']*'([^;]+)", header, re.I)
    if starred:
        return urllib.parse.unquote(starred.group(1).strip().strip('"'))
    plain = re.search(r'filename\s*=\s*"?([^";]+)"?', header, re.I)
    return plain.group(1).strip() if plain else ""


def inner_address(host):
    """True when a host name resolves to a loopback, private, link-local or reserved address."""
    try:
        infos = socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        return False  # the connection fails on its own, with its own message
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if address.is_private or address.is_loopback or address.is_link_local or address.is_reserved \
                or address.is_multicast or address.is_unspecified:
            return True
    return False


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are followed by Downloader (counted, without any credentials), not by urllib."""

    def redirect_request(self, *args, **kwargs):
        return None


class Downloader(object):
    """Saves linked files into one folder."""

    def __init__(self, folder, limit=DOWNLOAD_LIMIT, deadline=DOWNLOAD_DEADLINE, trusted=()):
        self.folder, self.limit, self.deadline = folder, limit, deadline
        self.trusted = set(host.lower() for host in trusted if host)  # the API host: may be on the office network
        self.opener = urllib.request.build_opener(NoRedirect())

    def save_all(self, texts):
        """(saved paths, problems) for every link in the texts."""
        saved, problems = [], []
        for url in answer_links("\n".join(text for text in texts if text)):
            try:
                saved.append(self.save(url))
            except DownloadFailed as err:
                problems.append("下载失败 %s:%s" % (url[:200], err))
            except OSError as err:  # the folder or the disk: the answer is kept all the same
                problems.append("下载的文件没有存成 %s:%s" % (url[:200], getattr(err, "strerror", None) or type(err).__name__))
        return saved, problems

    def save(self, url):
        """Download one URL into the folder; its local path."""
        ends = time.monotonic() + self.deadline
        response = self.open(url, ends)
        try:
            content_type = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            vague = content_type in ("", "application/octet-stream")
            guessed = "" if vague else mimetypes.guess_extension(content_type) or ""
            extension = KNOWN_EXTENSIONS.get(content_type) or guessed
            name = disposition_name(response.headers.get("Content-Disposition")) or \
                urllib.parse.urlsplit(response.geturl() or url).path.rstrip("/").split("/")[-1]
            return self.write(response, safe_name(name, extension), ends)
        finally:
            response.close()

    def open(self, url, ends):
        """The response of a URL after at most DOWNLOAD_REDIRECTS redirects (never with a token)."""
        for _ in range(DOWNLOAD_REDIRECTS + 1):
            parts = urllib.parse.urlsplit(url)
            if parts.scheme.lower() not in ("http", "https"):
                raise DownloadFailed("只下载 http(s) 链接")
            host = (parts.hostname or "").lower()
            if host not in self.trusted and inner_address(host):
                raise DownloadFailed("链接指向本机或内网地址 %s,不下载(只有扣子 API 所在的主机例外)" % host)
            left = ends - time.monotonic()
            if left <= 0:
                raise DownloadFailed("超过 %d 秒没有下载完" % self.deadline)
            request = urllib.request.Request(url, headers={"User-Agent": "yingdao-coze"})
            try:
                return self.opener.open(request, timeout=min(left, 10.0))
            except urllib.error.HTTPError as err:
                location = err.headers.get("Location") if 300 <= err.code < 400 else None
                err.close()
                if not location:
                    raise DownloadFailed("服务器返回 HTTP %d" % err.code)
                url = urllib.parse.urljoin(url, location)
            except (urllib.error.URLError, socket.timeout, OSError, ValueError, http.client.HTTPException) as err:
                raise DownloadFailed("连不上或超时(%s)" % (getattr(err, "reason", None) or type(err).__name__))
        raise DownloadFailed("重定向超过 %d 次" % DOWNLOAD_REDIRECTS)

    def write(self, response, name, ends):
        """Stream the body into a new file (never an existing one); the size counted while reading."""
        os.makedirs(self.folder, exist_ok=True)  # rows download at once: another may have just made it
        path, handle = self.new_file(name)
        size, complete = 0, False
        try:
            while True:
                if time.monotonic() > ends:
                    raise DownloadFailed("超过 %d 秒没有下载完" % self.deadline)
                try:
                    block = response.read(65536)
                except (socket.timeout, OSError, ValueError, http.client.HTTPException) as err:
                    raise DownloadFailed("读取中断(%s)" % type(err).__name__)
                if not block:
                    break
                size += len(block)
                if size > self.limit:
                    raise DownloadFailed("文件超过 %d MB 的上限" % (self.limit // 1048576 or 1))
                handle.write(block)
            complete = True
        finally:
            handle.close()
            if not complete:
                os.remove(path)
        return path

    def new_file(self, name):
        """(path, open handle) of a file that did not exist: name, name (2), name (3) ..."""
        stem, ext = os.path.splitext(name)
        for number in range(1, 1000):
            path = os.path.join(self.folder, name if number == 1 else "%s (%d)%s" % (stem, number, ext))
            try:
                return path, open(path, "xb")
            except FileExistsError:
                continue
        raise DownloadFailed("文件夹里同名文件太多:%s" % name)
