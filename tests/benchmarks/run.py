"""Run every benchmark against the local simulator and write the figures into
docs/benchmarks.md (speed, memory) and docs/reliability.md (fault matrix, bad inputs).

    python tests/benchmarks/run.py            # the full run (a few minutes)
    python tests/benchmarks/run.py --quick    # smaller counts, same tables

Timings are ratios measured side by side in one run: machines here are noisy.
"""
import datetime
import os
import platform
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

DOCS = os.path.join(ROOT, "docs")


def machine():
    cores = os.cpu_count()
    return "%s, Python %s, %s cores" % (platform.platform(terse=True), platform.python_version(), cores)


def replace_section(path, marker, text):
    """Replace the block between <!-- marker:start --> and <!-- marker:end --> in a doc."""
    with open(path, encoding="utf-8") as handle:
        doc = handle.read()
    start, end = "<!-- %s:start -->" % marker, "<!-- %s:end -->" % marker
    block = "%s\n%s\n%s" % (start, text.strip(), end)
    if start in doc:
        doc = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: block, doc, flags=re.S)
    else:
        doc = doc.rstrip() + "\n\n" + block + "\n"
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(doc)


def main(argv):
    quick = "--quick" in argv
    stamp = "%s · %s · `python tests/benchmarks/run.py%s`" % (
        datetime.date.today().isoformat(), machine(), " --quick" if quick else "")
    sections = []

    import bench_answer
    sections.append(bench_answer.markdown(bench_answer.run(rounds=5 if quick else 20)))
    import bench_stream
    sections.append(bench_stream.markdown(bench_stream.throughput(rounds=2 if quick else 3)))
    try:
        import bench_sign
        sections.append(bench_sign.markdown(bench_sign.sign_times(10 if quick else 40)))
    except ImportError:  # cryptography, the comparison, is a test dependency
        pass
    try:
        import bench_simulator
        sections.append(bench_simulator.markdown(bench_simulator.run()))
    except ImportError:
        pass
    try:
        import bench_batch
        sections.append(bench_batch.markdown(bench_batch.run(quick=quick)))
    except ImportError:
        pass
    replace_section(os.path.join(DOCS, "benchmarks.md"), "figures", "_%s_\n\n%s" % (stamp, "\n\n".join(sections)))

    import bench_xlsx
    replace_section(os.path.join(DOCS, "benchmarks.md"), "xlsx-figures",
                    "_%s_\n\n%s" % (stamp, bench_xlsx.markdown(bench_xlsx.run(quick=quick))))

    import fault_matrix
    count = 5 if quick else 30
    rows = fault_matrix.run_matrix(count)
    replace_section(os.path.join(DOCS, "reliability.md"), "fault-matrix",
                    "_%s · %d questions per cell, fault rate 20%% (mixed: 20%% split over all kinds)_\n\n%s"
                    % (stamp, count, fault_matrix.markdown(rows, count, 0.2)))

    import bad_input_table
    replace_section(os.path.join(DOCS, "reliability.md"), "bad-inputs", bad_input_table.markdown())
    print("写入 docs/benchmarks.md 和 docs/reliability.md")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
