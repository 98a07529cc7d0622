"""Labelled CSV loading: any column names, clear errors with line numbers."""

from __future__ import annotations

import pytest

from assistant.engine.understanding.dataset import DataError, load_labelled_csv


def write(tmp_path, text: str, name: str = "data.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_any_column_names_first_is_text_second_is_label(tmp_path):
    path = write(tmp_path, 'utterance,category,extra\n"hello, there",greet,x\nbye now,leave,y\nhi,greet,z\n')
    data = load_labelled_csv(path)
    assert data.texts == ["hello, there", "bye now", "hi"]
    assert data.labels == ["greet", "leave", "greet"]
    assert data.label_counts["greet"] == 2


def test_real_banking77_header_loads():
    from pathlib import Path

    path = Path("/work/shared/data/banking77/test.csv")
    if not path.exists():
        pytest.skip("shared data not mounted")
    data = load_labelled_csv(path)
    assert len(data.label_counts) == 77


def test_single_column_is_rejected(tmp_path):
    with pytest.raises(DataError, match=r"data.csv:1: need at least 2 columns"):
        load_labelled_csv(write(tmp_path, "text\nhello\n"))


def test_short_row_names_its_line(tmp_path):
    with pytest.raises(DataError, match=r"data.csv:3: need 2 columns"):
        load_labelled_csv(write(tmp_path, "text,label\nhello,a\nlonely\n"))


def test_empty_label_names_its_line(tmp_path):
    with pytest.raises(DataError, match=r"data.csv:3: empty label"):
        load_labelled_csv(write(tmp_path, "text,label\nhello,a\nbye,\n"))


def test_class_with_single_example_is_rejected(tmp_path):
    path = write(tmp_path, "text,label\nhello,a\nhey,a\nbye,b\n")
    with pytest.raises(DataError, match=r"data.csv:4: label 'b' has 1 example"):
        load_labelled_csv(path, min_per_label=2)


def test_missing_and_headerless_files(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        load_labelled_csv(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="empty file"):
        load_labelled_csv(write(tmp_path, ""))
    with pytest.raises(DataError, match="no data rows"):
        load_labelled_csv(write(tmp_path, "text,label\n"))


def test_one_label_only_is_rejected(tmp_path):
    with pytest.raises(DataError, match="at least 2 different labels"):
        load_labelled_csv(write(tmp_path, "text,label\nhello,a\nhey,a\n"))
