"""The zip package of an .xlsx file, opened so that no file can exhaust the machine: every
part is read as a bounded stream (inflated size and compression ratio checked before the
first byte is inflated, and counted while it is), XML is parsed event by event with expat
and any DTD or entity declaration is refused (no entity is ever expanded), relationships
may not point outside the package or at a missing part. Whatever is wrong ends in one
Chinese InputError naming the file, what is wrong and what to do."""
import posixpath
import urllib.parse
import zipfile
import zlib
from xml.parsers import expat

from .errors import InputError

XLSX_PART_LIMIT = 1 << 30        # inflated bytes of one part (a full 1,048,576-row sheet fits)
XLSX_RATIO_LIMIT = 200           # inflated / compressed, for parts over XLSX_RATIO_FROM bytes
XLSX_RATIO_FROM = 8 << 20
XLSX_RUN_LIMIT = 1 << 24         # bytes without a "<": one text node or one tag (a huge attribute) at most
XLSX_CHUNK = 1 << 16
XLSX_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
XLSX_DTD = "部件 %s 里有 DTD 或实体声明(正常的 Excel 文件没有,可能是恶意构造的)"
XLSX_RESAVE = "请用 Excel 或 WPS 打开它,「另存为」.xlsx(或 CSV)后再运行(还没有发出任何请求,没有花钱)"


def xlsx_refusal(path, problem):
    """The one error for a workbook that cannot be read: which file, what is wrong, what to do."""
    return InputError("表格 %s 读不了:%s。%s" % (path, problem, XLSX_RESAVE))


def open_package(path):
    """A zipfile.ZipFile of `path`, or an InputError for a legacy .xls, an encrypted workbook
    (both are OLE files) or anything that is not a zip."""
    try:
        with open(path, "rb") as handle:
            magic = handle.read(8)
    except OSError as err:
        raise InputError("打不开表格 %s:%s" % (path, err.strerror or type(err).__name__))
    if magic == XLSX_OLE_MAGIC:
        raise xlsx_refusal(path, "这是旧版 .xls 文件,或设了打开密码的工作簿(加密后不再是 .xlsx 格式)。"
                                 "有密码的请先在 Excel 里「文件 → 信息 → 保护工作簿」去掉密码")
    try:
        book = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as err:
        raise xlsx_refusal(path, "不是有效的 .xlsx 文件(不是 zip 压缩包,或文件不完整:%s)" % type(err).__name__)
    if len(book.NameToInfo) != len(book.filelist):  # two parts with one name: which one Excel reads is unclear
        book.close()
        raise xlsx_refusal(path, "压缩包里有同名的部件")
    return book


def part_chunks(book, path, name):
    """Yield the inflated bytes of part `name` in chunks; a part that would inflate past the
    limits is refused before anything is inflated, corrupt data when it is met."""
    try:
        info = book.getinfo(name)
    except KeyError:
        raise xlsx_refusal(path, "缺少部件 %s(工作簿里的关系指向一个不存在的部件)" % name)
    if info.flag_bits & 0x1:
        raise xlsx_refusal(path, "部件 %s 是加密的" % name)
    if info.file_size > XLSX_PART_LIMIT or (
            info.file_size > XLSX_RATIO_FROM and info.file_size > XLSX_RATIO_LIMIT * max(info.compress_size, 1)):
        raise xlsx_refusal(path, "部件 %s 解压后有 %d 字节(压缩前 %d 字节),超过上限,可能是恶意构造的「压缩炸弹」"
                           % (name, info.file_size, info.compress_size))
    seen = 0
    try:
        with book.open(info) as stream:
            while True:
                chunk = stream.read(XLSX_CHUNK)
                if not chunk:
                    return
                seen += len(chunk)
                if seen > XLSX_PART_LIMIT:
                    raise xlsx_refusal(path, "部件 %s 解压后超过 %d 字节" % (name, XLSX_PART_LIMIT))
                yield chunk
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError, OSError) as err:
        raise xlsx_refusal(path, "部件 %s 的压缩数据已损坏(%s)" % (name, type(err).__name__))


def check_package(book, path):
    """Inflate every part once (bounded, CRC checked): a broken picture or chart is found now;
    an XML part that is only copied is refused too when it declares a DTD or an entity."""
    for info in book.infolist():
        xml, tail = info.filename.lower().endswith((".xml", ".rels", ".vml")), b""
        for chunk in part_chunks(book, path, info.filename):
            if xml and (b"<!DOCTYPE" in tail + chunk or b"<!ENTITY" in tail + chunk):
                raise xlsx_refusal(path, XLSX_DTD % info.filename)
            tail = chunk[-16:]


def xml_events(book, path, name):
    """Yield (True, local name, attributes) at each start tag and (False, local name, text) at
    each end tag of part `name`; text is what came since the last tag (leaf values).
    Attribute names keep their namespace as 'uri}local'."""
    pending, text, local = [], [], {}  # local: 'uri}tag' -> 'tag', computed once per tag name
    add, keep, forget = pending.append, text.append, text.clear

    def refuse_dtd(*_):
        raise xlsx_refusal(path, XLSX_DTD % name)

    def start(tag, attrs):
        forget()
        add((True, local.get(tag) or local.setdefault(tag, tag[tag.rfind("}") + 1:]), attrs))

    def end(tag):
        add((False, local.get(tag) or local.setdefault(tag, tag[tag.rfind("}") + 1:]), "".join(text)))
        forget()

    parser = expat.ParserCreate(namespace_separator="}")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = parser.EntityDeclHandler = refuse_dtd
    parser.UnparsedEntityDeclHandler = parser.ExternalEntityRefHandler = refuse_dtd
    parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = start, end, keep
    parser.buffer_text = True
    run = 0  # bytes since the last "<": expat holds a whole tag (and its attributes) in memory
    try:
        for chunk in part_chunks(book, path, name):
            last = chunk.rfind(b"<")
            run = run + len(chunk) if last < 0 else len(chunk) - last - 1
            if run > XLSX_RUN_LIMIT:
                raise xlsx_refusal(path, "部件 %s 里有一个超过 %d 字节的标签或文字" % (name, XLSX_RUN_LIMIT))
            parser.Parse(chunk, False)
            yield from pending
            del pending[:]
        parser.Parse(b"", True)
    except expat.ExpatError as err:
        raise xlsx_refusal(path, "部件 %s 不是合法的 XML(第 %s 行:%s)" % (name, err.lineno, expat.ErrorString(err.code)))
    yield from pending


def attribute(attrs, local):
    """The value of attribute `local` whatever its namespace (r:id, id)."""
    for key, value in attrs.items():
        if key == local or key.endswith("}" + local):
            return value
    return None


def part_path(path, base, target, mode=None):
    """The zip name a relationship target points at; refused when it leaves the package."""
    if mode == "External" or "://" in target or target.startswith("\\"):
        raise xlsx_refusal(path, "关系指向工作簿外面的文件 %s" % target)
    target = urllib.parse.unquote(target)
    resolved = posixpath.normpath(target.lstrip("/") if target.startswith("/") else posixpath.join(base, target))
    if resolved in ("", ".") or resolved.startswith("../") or resolved == ".." or resolved.startswith("/"):
        raise xlsx_refusal(path, "关系指向工作簿外面的路径 %s" % target)
    return resolved


def relationships(book, path, part):
    """{id: (type tail, Target, TargetMode)} of the relationships of `part` ({} when it has none)."""
    folder, base = posixpath.dirname(part), posixpath.basename(part)
    rels = posixpath.join(folder, "_rels", base + ".rels")
    if rels not in book.NameToInfo:
        return {}
    found = {}
    for is_start, tag, attrs in xml_events(book, path, rels):
        if is_start and tag == "Relationship":
            kind = (attrs.get("Type") or "").rsplit("/", 1)[-1]
            found[attrs.get("Id")] = (kind, attrs.get("Target") or "", attrs.get("TargetMode"))
    return found
