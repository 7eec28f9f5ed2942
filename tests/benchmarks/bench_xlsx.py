"""Workbook figures: peak memory and time to read a 100,000-row xlsx, and to write a copy with an
answer in every row (the splice writer); time and peak memory to refuse a zip bomb (a ~1 MB
file whose sheet inflates to 1 GiB). Each is measured in a fresh process running dist/coze.py
(ru_maxrss: the whole interpreter, module included).

    python tests/benchmarks/bench_xlsx.py [--quick]
"""
import os
import subprocess
import sys
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DIST = os.path.join(ROOT, "dist", "coze.py")

MEASURE = r"""
import importlib.util, resource, sys, time
spec = importlib.util.spec_from_file_location("coze_bench_xlsx", sys.argv[1])
coze = importlib.util.module_from_spec(spec)
spec.loader.exec_module(coze)
what, path = sys.argv[2], sys.argv[3]
started = time.monotonic()
try:
    sheet = coze._XlsxSheet(path)
    if what == "read":
        count = sum(1 for _ in sheet.rows())
    else:
        cells = dict((number, {9: "第%d行的回答:一句二十字以内的广告语" % number}) for number, _ in sheet.rows())
        coze._splice_copy(sheet, path + ".out.xlsx", cells)
        count = len(cells)
    outcome = "ok %d" % count
except coze.InputError as err:
    outcome = "refused " + str(err)[:60].replace(" ", "_")
print(outcome, time.monotonic() - started, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def make_workbook(rows, folder):
    """A 9-column sheet the way openpyxl writes one (shared strings are not used: inline text)."""
    import openpyxl
    path = os.path.join(folder, "rows.xlsx")
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("商品")
    sheet.append(["编号", "商品名", "类目", "价格", "库存", "产地", "上架日期", "卖点", "问题"])
    for i in range(rows):
        sheet.append([i, "商品%06d" % i, "家居", 19.9 + i % 100, i % 500, "浙江义乌", "2026-11-%02d" % (1 + i % 28),
                      "轻便耐用,适合送礼", "第%d行:请为这款商品写一句二十字以内的广告语" % i])
    book.save(path)
    return path


def make_bomb(folder, inflated=1 << 30):
    """A real workbook whose sheet part is `inflated` bytes of one repeated row."""
    path = os.path.join(folder, "bomb.xlsx")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as book:
        book.writestr("[Content_Types].xml", "<Types/>")
        book.writestr("_rels/.rels", '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                      '<Relationship Id="r1" Type="x/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        book.writestr("xl/workbook.xml", '<workbook xmlns:r="r"><sheets><sheet name="s" r:id="r1"/></sheets></workbook>')
        book.writestr("xl/_rels/workbook.xml.rels", '<Relationships><Relationship Id="r1" Type="x/worksheet" '
                      'Target="worksheets/sheet1.xml"/></Relationships>')
        with book.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as part:
            part.write(b"<worksheet><sheetData><row><c><v>1</v></c></row>")
            block = b" " * (1 << 20)  # whitespace between rows is valid XML and deflates best (~1000:1)
            for _ in range(inflated // len(block)):
                part.write(block)
            part.write(b"</sheetData></worksheet>")
    return path


def measure(what, path):
    out = subprocess.check_output([sys.executable, "-c", MEASURE, DIST, what, path], text=True, timeout=1800)
    outcome, seconds, kilobytes = out.strip().splitlines()[-1].rsplit(" ", 2)
    return {"outcome": outcome, "seconds": float(seconds), "peak_mb": int(kilobytes) / 1024.0}


def baseline():
    out = subprocess.check_output([sys.executable, "-c", "import importlib.util,resource,sys;"
                                   "s=importlib.util.spec_from_file_location('c',sys.argv[1]);"
                                   "m=importlib.util.module_from_spec(s);s.loader.exec_module(m);"
                                   "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)", DIST], text=True)
    return int(out.strip()) / 1024.0


def run(quick=False):
    rows = 20000 if quick else 100000
    folder = tempfile.mkdtemp(prefix="coze_bench_xlsx_")
    path = make_workbook(rows, folder)
    bomb = make_bomb(folder)
    return {"rows": rows, "size_mb": os.path.getsize(path) / 1048576.0, "baseline_mb": baseline(),
            "read": measure("read", path), "write": measure("write", path),
            "bomb_kb": os.path.getsize(bomb) / 1024.0, "bomb": measure("read", bomb)}


def markdown(f):
    r, w, b = f["read"], f["write"], f["bomb"]
    return "\n".join([
        "### 工作簿 / Workbooks (xlsx)",
        "",
        "| figure | value | goal |",
        "|---|---|---|",
        "| peak memory reading a %d-row × 9-column xlsx (%.1f MB file), whole process | **%.0f MB** (%.1f s) | ≤ 150 MB |"
        % (f["rows"], f["size_mb"], r["peak_mb"], r["seconds"]),
        "| peak memory writing its copy with an answer in every row (rows read, then the streaming splice) | **%.0f MB** (%.1f s) | ≤ 150 MB |"
        % (w["peak_mb"], w["seconds"]),
        "| the same process with only dist/coze.py imported | %.0f MB | — |" % f["baseline_mb"],
        "| zip bomb (%.0f KB file, sheet inflates to 1 GiB): refused in | **%.2f s**, peak %.0f MB (`%s`) | < 5 s, < 200 MB |"
        % (f["bomb_kb"], b["seconds"], b["peak_mb"], b["outcome"].split("_")[0]),
    ])


if __name__ == "__main__":
    print(markdown(run(quick="--quick" in sys.argv)))
