"""Put blocks on the Windows clipboard the way ShadowBot's editor does (stdlib ctypes only).

ShadowBot copies blocks as (public material, see docs/templates.md):
- "ShadowBot.Flow.Blocks": the blocks JSON as a .NET string, written by
  DataObject.SetData, i.e. the 16-byte "serialized object" GUID followed by a BinaryFormatter
  (MS-NRBF) stream holding one string;
- "HTML Format": CF_HTML whose fragment is <shadowbot id="blocks" ...>;
- the block titles as plain text.
"""
import struct
import sys
import time

# .NET DataObject's marker for a serialized object: Guid("FD9EA796-3B13-4370-A679-56106BB288FB").ToByteArray()
SERIALIZED_OBJECT_ID = bytes(bytearray([0x96, 0xA7, 0x9E, 0xFD, 0x13, 0x3B, 0x70, 0x43,
                                        0xA6, 0x79, 0x56, 0x10, 0x6B, 0xB2, 0x88, 0xFB]))
BLOCKS_FORMAT = "ShadowBot.Flow.Blocks"


def _length_prefix(n):
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        if n:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def nrbf_string(text):
    """What .NET's DataObject.SetData(format, text) stores for a custom format."""
    data = text.encode("utf-8")
    stream = b"\x00" + struct.pack("<iiii", 1, -1, 1, 0)            # SerializationHeaderRecord
    stream += b"\x06" + struct.pack("<i", 1) + _length_prefix(len(data)) + data  # BinaryObjectString, id 1
    stream += b"\x0b"                                                # MessageEnd
    return SERIALIZED_OBJECT_ID + stream


def read_nrbf_string(payload):
    """The string inside nrbf_string(...) output (used by tests)."""
    if payload[:16] != SERIALIZED_OBJECT_ID:
        raise ValueError("no .NET serialized-object marker")
    stream = payload[16:]
    if stream[0:1] != b"\x00" or struct.unpack("<iiii", stream[1:17]) != (1, -1, 1, 0):
        raise ValueError("bad NRBF header")
    if stream[17:18] != b"\x06":
        raise ValueError("not a BinaryObjectString")
    pos, length, shift = 22, 0, 0
    while True:
        byte = bytearray(stream[pos:pos + 1])[0]
        pos += 1
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    if stream[pos + length:pos + length + 1] != b"\x0b":
        raise ValueError("no MessageEnd after the string")
    return stream[pos:pos + length].decode("utf-8")


def cf_html(fragment):
    """A CF_HTML document ("HTML Format") around fragment, with correct byte offsets."""
    header = "Version:0.9\r\nStartHTML:%010d\r\nEndHTML:%010d\r\nStartFragment:%010d\r\nEndFragment:%010d\r\n"
    before = b"<html>\r\n<body>\r\n<!--StartFragment-->"
    after = b"<!--EndFragment-->\r\n</body>\r\n</html>"
    body = fragment.encode("utf-8")
    start_html = len((header % (0, 0, 0, 0)).encode("ascii"))
    start_fragment = start_html + len(before)
    end_fragment = start_fragment + len(body)
    end_html = end_fragment + len(after)
    return (header % (start_html, end_html, start_fragment, end_fragment)).encode("ascii") + before + body + after


def set_clipboard(blocks_json, html_fragment, titles_text):
    """Windows only: replace the clipboard with the three formats. Raises OSError on failure."""
    import ctypes
    from ctypes import wintypes

    user32 = ctypes.WinDLL("user32", use_last_error=True)
    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    user32.OpenClipboard.argtypes = [wintypes.HWND]
    user32.OpenClipboard.restype = wintypes.BOOL
    user32.EmptyClipboard.restype = wintypes.BOOL
    user32.CloseClipboard.restype = wintypes.BOOL
    user32.RegisterClipboardFormatW.argtypes = [wintypes.LPCWSTR]
    user32.RegisterClipboardFormatW.restype = wintypes.UINT
    user32.SetClipboardData.argtypes = [wintypes.UINT, wintypes.HANDLE]
    user32.SetClipboardData.restype = wintypes.HANDLE
    kernel32.GlobalAlloc.argtypes = [wintypes.UINT, ctypes.c_size_t]
    kernel32.GlobalAlloc.restype = wintypes.HANDLE
    kernel32.GlobalLock.argtypes = [wintypes.HANDLE]
    kernel32.GlobalLock.restype = ctypes.c_void_p
    kernel32.GlobalUnlock.argtypes = [wintypes.HANDLE]
    kernel32.GlobalFree.argtypes = [wintypes.HANDLE]
    kernel32.GlobalFree.restype = wintypes.HANDLE
    gmem_moveable, cf_unicodetext = 0x0002, 13

    formats = [
        (user32.RegisterClipboardFormatW(BLOCKS_FORMAT), nrbf_string(blocks_json)),
        (user32.RegisterClipboardFormatW("HTML Format"), cf_html(html_fragment) + b"\x00"),
        (cf_unicodetext, titles_text.encode("utf-16-le") + b"\x00\x00"),
    ]
    for attempt in range(20):  # another program may hold the clipboard for a moment
        if user32.OpenClipboard(None):
            break
        time.sleep(0.05)
    else:
        raise OSError("剪贴板被其他程序占用,请稍后再试")
    try:
        if not user32.EmptyClipboard():
            raise ctypes.WinError(ctypes.get_last_error())
        for fmt, data in formats:
            if not fmt:
                raise ctypes.WinError(ctypes.get_last_error())
            handle = kernel32.GlobalAlloc(gmem_moveable, len(data))
            if not handle:
                raise ctypes.WinError(ctypes.get_last_error())
            pointer = kernel32.GlobalLock(handle)
            if not pointer:
                kernel32.GlobalFree(handle)
                raise ctypes.WinError(ctypes.get_last_error())
            ctypes.memmove(pointer, data, len(data))
            kernel32.GlobalUnlock(handle)
            if not user32.SetClipboardData(fmt, handle):
                kernel32.GlobalFree(handle)
                raise ctypes.WinError(ctypes.get_last_error())
    finally:
        user32.CloseClipboard()


def is_windows():
    return sys.platform == "win32"
