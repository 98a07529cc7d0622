"""Labelled text loaded from a CSV: header row, first column text, second column label (any names).

Bad input raises DataError with the file and line, so the CLI can print one clear line.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from assistant.engine.errors import DataError  # noqa: F401 - re-exported


@dataclass(frozen=True)
class LabelledData:
    texts: list[str]
    labels: list[str]
    source: str = ""

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def label_counts(self) -> Counter[str]:
        return Counter(self.labels)


def load_labelled_csv(path: str | Path, min_per_label: int = 1) -> LabelledData:
    """Read `path`; `min_per_label` > 1 rejects classes too small to learn (and to hold out) from."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    texts: list[str] = []
    labels: list[str] = []
    first_line: dict[str, int] = {}
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise DataError(f"{path}: empty file (expected a header row, then text,label rows)")
            if len(header) < 2:
                raise DataError(f"{path}:1: need at least 2 columns (text, label), found {len(header)}")
            for row in reader:
                line = reader.line_num
                if not row or all(not cell.strip() for cell in row):
                    continue
                if len(row) < 2:
                    raise DataError(f"{path}:{line}: need 2 columns (text, label), found {len(row)}")
                text, label = row[0].strip(), row[1].strip()
                if not text:
                    raise DataError(f"{path}:{line}: empty text")
                if not label:
                    raise DataError(f"{path}:{line}: empty label")
                texts.append(text)
                labels.append(label)
                first_line.setdefault(label, line)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    except csv.Error as exc:
        raise DataError(f"{path}: malformed CSV ({exc})") from exc
    if not texts:
        raise DataError(f"{path}: no data rows after the header")
    data = LabelledData(texts, labels, str(path))
    if min_per_label > 1:
        small = sorted((n, label) for label, n in data.label_counts.items() if n < min_per_label)
        if small:
            n, label = small[0]
            more = f" (and {len(small) - 1} more)" if len(small) > 1 else ""
            raise DataError(
                f"{path}:{first_line[label]}: label {label!r} has {n} example(s); "
                f"each label needs at least {min_per_label}{more}"
            )
    if len(data.label_counts) < 2:
        raise DataError(f"{path}: need at least 2 different labels, found {len(data.label_counts)}")
    return data
