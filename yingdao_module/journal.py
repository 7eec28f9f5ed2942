"""The batch journal: one JSON line per finished row, appended, flushed and fsynced before
anything else happens, so a crash or a closed laptop never loses an answer already paid for.

Its first line binds it to the input and the question template; a torn last line (the
process died mid-write) is ignored when the journal is read back.
"""
import json
import os
import threading


class Journal(object):
    def __init__(self, path, header):
        self.path = path
        self.header = header
        self._handle = None
        self._lock = threading.Lock()  # workers finish rows concurrently

    def load(self):
        """{row number: record} from an earlier run (the last record of a row wins)."""
        records = {}
        if not os.path.exists(self.path):
            return records
        with open(self.path, encoding="utf-8") as handle:
            for number, line in enumerate(handle):
                try:
                    record = json.loads(line)
                except ValueError:
                    continue  # a line torn by a crash: that row is simply done again
                if number == 0 and "journal" in record:
                    continue
                if isinstance(record, dict) and "row" in record:
                    records[record["row"]] = record
        return records

    def append(self, record):
        with self._lock:
            self._append(record)

    def _append(self, record):
        if self._handle is None:
            new = not os.path.exists(self.path) or os.path.getsize(self.path) == 0
            torn = not new and not self._ends_with_newline()
            self._handle = open(self.path, "a", encoding="utf-8")
            if torn:  # start after the torn line instead of gluing our record onto it
                self._handle.write("\n")
            if new:
                self._write(dict(self.header, journal=1))
        self._write(record)

    def _ends_with_newline(self):
        with open(self.path, "rb") as handle:
            handle.seek(-1, os.SEEK_END)
            return handle.read(1) == b"\n"

    def _write(self, record):
        self._handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self):
        with self._lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None
