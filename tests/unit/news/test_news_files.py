"""News files: CSV and JSONL read into sorted items; every bad line named with its reason."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from neural_trader.errors import DataError
from neural_trader.news import load_news


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_csv_and_jsonl_give_the_same_sorted_items(tmp_path: Path) -> None:
    csv = write(
        tmp_path,
        "n.csv",
        "time,symbols,headline,source\n"
        "2020-03-02T15:00:00Z,XOM;CVX,Oil majors cut spending,wire\n"
        "2020-03-02 14:00:00,AAPL,Apple beats estimates,wire\n",
    )
    jsonl = write(
        tmp_path,
        "n.jsonl",
        '{"time": "2020-03-02T15:00:00+00:00", "symbols": ["xom", "CVX"], '
        '"headline": "Oil majors cut spending", "source": "wire"}\n\n'
        '{"ts": 1583157600000000000, "symbols": "AAPL", "headline": "Apple beats estimates",'
        ' "source": "wire"}\n',
    )
    a, b = load_news(csv), load_news(jsonl)
    assert a == b
    assert [i.symbols for i in a] == [("AAPL",), ("XOM", "CVX")]
    assert a[0].ts == pd.Timestamp("2020-03-02 14:00", tz="UTC").value


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("a.csv", "time,symbols,headline\nyesterday-ish,AAPL,x\n", "a.csv line 2: time"),
        ("b.csv", "time,symbols,headline\n2020-01-01,,Up\n", "b.csv line 2: no symbols"),
        ("c.csv", "time,symbols,headline\n2020-01-01,AAPL,\n", "c.csv line 2: empty headline"),
        ("d.csv", "time,ticker,headline\n2020-01-01,AAPL,x\n", "header needs headline and symbols"),
        (
            "e.jsonl",
            '{"time": "2020-01-01", "symbols": "A", "headline": "x"}\n{oops\n',
            "line 2: not JSON",
        ),
        ("f.jsonl", "[1, 2]\n", "f.jsonl line 1: expected an object"),
        ("g.jsonl", '{"symbols": "A", "headline": "x"}\n', "line 1: no time"),
        ("h.txt", "anything", "news files are .csv or .jsonl"),
    ],
)
def test_bad_lines_are_named(tmp_path: Path, name: str, text: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        load_news(write(tmp_path, name, text))


def test_a_missing_file_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot read news file"):
        load_news(tmp_path / "none.csv")
