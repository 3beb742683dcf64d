"""Per-epoch metrics as JSON lines, appended safely: every record is one ``write`` of one
complete line on an ``O_APPEND`` descriptor, then ``fsync``, so concurrent writers (a sweep)
interleave whole lines and a crash leaves at most the records already written."""

from __future__ import annotations

import json
import os

from kernelnorm.io import to_jsonable


def append_jsonl(path: str, record: dict) -> None:
    """Append ``record`` as one JSON line to ``path`` (created with its folder if missing)."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    line = (json.dumps(to_jsonable(record), sort_keys=True) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_jsonl(path: str) -> list[dict]:
    """Records of a metrics file; a torn last line (killed writer) is skipped."""
    records = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return records
