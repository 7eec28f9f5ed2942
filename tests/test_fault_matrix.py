"""The fault matrix, small: every fault kind alone and all mixed, through ask (stream and
poll) and batch, from dist/coze.py. Every question is answered or ends in the right error,
and no fault costs an extra paid chat. The large version: tests/benchmarks/run.py."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "benchmarks"))

import fault_matrix  # noqa: E402

COZE = fault_matrix.load_dist()


@pytest.mark.parametrize("mode", fault_matrix.MODES)
@pytest.mark.parametrize("kind", fault_matrix.KINDS + ["mixed"])
def test_fault_matrix_cell(kind, mode):
    row = fault_matrix.run_cell(COZE, kind, mode, count=4, rate=0.5 if kind != "mixed" else 0.6, seed=11)
    assert fault_matrix.expected_ok(row), row
    if kind in ("stuck",) and row["right_error"]:
        assert row["chats_cancelled"] >= 1, row  # a stuck chat we gave up on was cancelled


def test_expected_ok_can_fail():
    row = {"questions": 2, "answered": 1, "right_error": 0, "wrong": 1, "chats_created": 2}
    assert not fault_matrix.expected_ok(row)
    row = {"questions": 2, "answered": 2, "right_error": 0, "wrong": 0, "chats_created": 3}
    assert not fault_matrix.expected_ok(row)  # an extra paid chat
