"""Read and write prompt records: JSONL, CSV with column mapping, Hugging Face datasets, parquet.

Readers fail with one message that names the file and line; writers are atomic (temp + rename),
so a failed import never leaves a half-written file behind.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rass.data.schema import PromptRecord, check_unique_ids
from rass.errors import DataError, EmptyInputError

FORMATS = ("jsonl", "csv", "tsv", "parquet", "hf")


def detect_format(path: Path) -> str:
    if path.is_dir():
        return "hf"
    suffix = path.suffix.lower().lstrip(".")
    if suffix in ("jsonl", "json", "ndjson"):
        return "jsonl"
    if suffix in ("csv", "tsv", "parquet"):
        return suffix
    raise DataError(f"cannot tell the format of {path} from its name; pass --format ({', '.join(FORMATS)})")


def _read_text(path: Path) -> str:
    if not path.exists():
        raise DataError(f"{path}: no such file")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(f"{path}:{line}: not valid UTF-8 (byte {exc.start})") from None
    if not text.strip():
        raise EmptyInputError(f"{path}: the file is empty")
    return text


def iter_json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for every non-blank line; malformed JSON names the line."""
    for lineno, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{lineno}: malformed JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(obj, dict):
            raise DataError(f"{path}:{lineno}: expected a JSON object per line")
        yield lineno, obj


def read_jsonl(path: str | Path) -> list[PromptRecord]:
    path = Path(path)
    records = [PromptRecord.from_dict(obj, f"{path}:{n}") for n, obj in iter_json_lines(path)]
    check_unique_ids(records, str(path))
    return records


def write_jsonl(path: str | Path, rows: Iterable[PromptRecord | dict[str, Any]]) -> Path:
    """Write all rows atomically: readers never see a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with tmp.open("w", encoding="utf-8") as f:
            for row in rows:
                obj = row.to_dict() if isinstance(row, PromptRecord) else row
                f.write(json.dumps(obj, ensure_ascii=False) + "\n")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


@dataclass
class ColumnMap:
    """How a table's columns map onto PromptRecord fields (for CSV/TSV/parquet imports)."""

    text_col: str = "text"
    label_col: str | None = "label"
    label_map: dict[str, str] = field(default_factory=dict)
    id_col: str | None = None
    lang_col: str | None = None
    lang: str = "en"
    category_col: str | None = None
    category_map: dict[str, str] = field(default_factory=dict)
    default_label: str | None = None
    default_category: str = "none"
    kind: str = "imported"
    source: str | None = None


def parse_map(spec: str | None) -> dict[str, str]:
    """``safe=benign,unsafe=harmful`` → {"safe": "benign", "unsafe": "harmful"}."""
    out: dict[str, str] = {}
    for part in (spec or "").split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise DataError(f"bad mapping {part!r}; write it as from=to,from2=to2")
        out[key.strip()] = value.strip()
    return out


def _rows_to_records(rows: list[dict[str, Any]], columns: list[str], path: Path, cmap: ColumnMap) -> list[PromptRecord]:
    wanted = [c for c in (cmap.text_col, cmap.label_col, cmap.id_col, cmap.lang_col, cmap.category_col) if c]
    missing = [c for c in wanted if c not in columns]
    if missing:
        raise DataError(f"{path}: no column {missing[0]!r}; columns are: {', '.join(columns)}")
    source = cmap.source or path.name
    records = []
    for n, row in enumerate(rows, start=1):
        where = f"{path}:row {n}"
        text = row.get(cmap.text_col)
        if text is None or not str(text).strip():
            raise DataError(f"{where}: empty text in column {cmap.text_col!r}")
        if cmap.label_col:
            raw = str(row.get(cmap.label_col, "")).strip()
            label = cmap.label_map.get(raw, raw)
        elif cmap.default_label:
            label = cmap.default_label
        else:
            raise DataError(f"{path}: no label column; pass --label-col or --label")
        if label not in ("harmful", "benign"):
            hint = " (map it with --label-map, e.g. safe=benign,unsafe=harmful)" if raw else ""
            raise DataError(f"{where}: unknown label {raw!r}{hint}")
        category = cmap.default_category
        if cmap.category_col:
            raw_cat = str(row.get(cmap.category_col, "")).strip()
            category = cmap.category_map.get(raw_cat, raw_cat) or cmap.default_category
        rec_id = str(row[cmap.id_col]).strip() if cmap.id_col else f"{Path(source).stem}-{n:05d}"
        lang = str(row[cmap.lang_col]).strip() if cmap.lang_col else cmap.lang
        meta = {k: v for k, v in row.items() if k not in wanted and v not in (None, "")}
        records.append(
            PromptRecord.from_dict(
                {
                    "id": rec_id,
                    "text": str(text).strip(),
                    "lang": lang,
                    "label": label,
                    "category": category,
                    "kind": cmap.kind,
                    "source": source,
                    "meta": meta,
                },
                where,
            )
        )
    if not records:
        raise EmptyInputError(f"{path}: no rows")
    check_unique_ids(records, str(path))
    return records


def read_table(path: str | Path, cmap: ColumnMap, fmt: str | None = None) -> list[PromptRecord]:
    """Read CSV/TSV/parquet rows through a column map."""
    path = Path(path)
    fmt = fmt or detect_format(path)
    if fmt in ("csv", "tsv"):
        text = _read_text(path)
        reader = csv.DictReader(text.splitlines(), delimiter="\t" if fmt == "tsv" else ",")
        columns = list(reader.fieldnames or [])
        try:
            rows = list(reader)
        except csv.Error as exc:
            raise DataError(f"{path}:{reader.line_num}: malformed CSV ({exc})") from None
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except Exception as exc:  # pyarrow raises several error types for bad files
            raise DataError(f"{path}: not a readable parquet file ({exc})") from None
        columns = list(table.column_names)
        rows = table.to_pylist()
    else:
        raise DataError(f"read_table cannot read format {fmt!r}")
    return _rows_to_records(rows, columns, path, cmap)


def to_hf_dataset(records: list[PromptRecord]) -> Any:
    """A ``datasets.Dataset`` with one column per field (``meta`` as a JSON string, stable schema)."""
    from datasets import Dataset

    rows = [{**r.to_dict(), "meta": json.dumps(r.meta, ensure_ascii=False)} for r in records]
    return Dataset.from_list(rows)


def from_hf_dataset(dataset: Any, where: str) -> list[PromptRecord]:
    records = []
    for n, row in enumerate(dataset, start=1):
        row = dict(row)
        if isinstance(row.get("meta"), str):
            row["meta"] = json.loads(row["meta"] or "{}")
        records.append(PromptRecord.from_dict(row, f"{where}:row {n}"))
    check_unique_ids(records, where)
    return records


def save_hf(records: list[PromptRecord], folder: str | Path) -> Path:
    folder = Path(folder)
    tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    to_hf_dataset(records).save_to_disk(str(tmp))
    if folder.exists():
        import shutil

        shutil.rmtree(folder)
    tmp.replace(folder)
    return folder


def write_parquet(records: list[PromptRecord], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        to_hf_dataset(records).to_parquet(str(tmp))
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_records(path: str | Path, fmt: str | None = None, cmap: ColumnMap | None = None) -> list[PromptRecord]:
    """Read any supported format. Tables go through ``cmap``; JSONL and HF folders are native."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    fmt = fmt or detect_format(path)
    if fmt == "jsonl":
        return read_jsonl(path)
    if fmt == "hf":
        from datasets import load_from_disk

        try:
            ds = load_from_disk(str(path))
        except Exception as exc:  # datasets raises FileNotFoundError/ValueError variants
            raise DataError(f"{path}: not a saved Hugging Face dataset ({exc})") from None
        return from_hf_dataset(ds, str(path))
    if fmt == "parquet" and cmap is None:
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        if {"id", "text"} <= set(table.column_names):
            from datasets import Dataset

            return from_hf_dataset(Dataset(table), str(path))
    return read_table(path, cmap or ColumnMap(), fmt)


def write_records(records: list[PromptRecord], path: str | Path, fmt: str | None = None) -> Path:
    path = Path(path)
    fmt = fmt or ("hf" if not path.suffix else detect_format(path))
    if fmt == "jsonl":
        return write_jsonl(path, records)
    if fmt == "parquet":
        return write_parquet(records, path)
    if fmt == "hf":
        return save_hf(records, path)
    raise DataError(f"cannot write format {fmt!r}; use jsonl, parquet or hf")
