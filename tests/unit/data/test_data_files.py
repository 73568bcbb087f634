"""``load_file``: users' CSV and Parquet files, and a precise error for each kind of bad file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from neural_trader.data import load_bars, load_file
from neural_trader.errors import DataError

HEADER = "Date,Open,High,Low,Close,Volume"
GOOD = [
    "2020-01-02,10,11,9,10.5,100",
    "2020-01-03,10.5,12,10,11,200",
    "2020-01-06,11,11.5,10.5,11.2,150",
    "2020-01-07,11.2,11.8,11,11.6,120",
]


def write_csv(tmp_path: Path, rows: list[str], header: str = HEADER, name: str = "bad.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def error_of(path: Path, **kwargs: str) -> str:
    with pytest.raises(DataError) as err:
        load_file(path, **kwargs)
    return str(err.value)


def ns(text: str) -> int:
    return int(pd.Timestamp(text).as_unit("ns").value)


def test_good_csv_loads_with_inferred_interval_and_utc_times(tmp_path: Path) -> None:
    path = write_csv(tmp_path, GOOD, name="acme_daily.csv")
    bars = load_file(path)
    assert (bars.symbol, bars.interval, len(bars)) == ("ACME_DAILY", "1d", 4)
    assert bars.ts[0] == ns("2020-01-02T00:00:00Z")
    np.testing.assert_array_equal(bars.close, [10.5, 11, 11.2, 11.6])
    np.testing.assert_array_equal(bars.volume, [100, 200, 150, 120])
    for col in (bars.ts, bars.open, bars.high, bars.low, bars.close, bars.volume):
        assert col.flags.c_contiguous
    assert bars.volume.dtype == np.float64 and bars.ts.dtype == np.int64
    named = load_file(path, symbol="ACME", interval="1w")
    assert (named.symbol, named.interval) == ("ACME", "1w")


def test_columns_match_case_insensitively_and_volume_is_optional(tmp_path: Path) -> None:
    rows = [
        "2020-01-02T14:30:00-05:00,10,11,9,10.5",
        "2020-01-02T15:30:00-05:00,10.5,12,10,11",
        "2020-01-02 22:30:00+01:00,11,11.5,10.5,11.2",
        "2020-01-02 22:30,11.2,11.8,11,11.6",
    ]
    bars = load_file(write_csv(tmp_path, rows, header=" TIMESTAMP ,open,HIGH,Low,cLoSe"))
    assert bars.interval == "1h"
    assert bars.ts[0] == ns("2020-01-02T19:30:00Z") and bars.ts[-1] == ns("2020-01-02T22:30Z")
    np.testing.assert_array_equal(bars.volume, np.zeros(4))


def test_separate_date_and_time_columns_are_joined(tmp_path: Path) -> None:
    rows = ["2017.01.02,00:00,1.05,1.06,1.04,1.05,10", "2017.01.02,01:00,1.05,1.06,1.04,1.06,12"]
    header = "Date,Time,Open,High,Low,Close,Volume"
    bars = load_file(write_csv(tmp_path, rows, header=header, name="eurusd_h1.csv"))
    assert (bars.symbol, bars.interval) == ("EURUSD_H1", "1h")
    assert bars.ts[1] == ns("2017-01-02T01:00Z")


def test_pandas_written_files_round_trip_bundled_data(tmp_path: Path) -> None:
    spx = load_bars("SPX", "2010", "2011")
    frame = pd.DataFrame(
        {"Open": spx.open, "High": spx.high, "Low": spx.low, "Close": spx.close,
         "Volume": spx.volume},
        index=pd.DatetimeIndex(spx.ts.astype("datetime64[ns]"), tz="UTC"),
    )  # fmt: skip
    frame.to_csv(tmp_path / "spx.csv")  # unnamed index column holds the timestamps
    frame.to_csv(tmp_path / "spx.csv.gz")
    frame.to_parquet(tmp_path / "spx.parquet")
    for name in ("spx.csv", "spx.csv.gz", "spx.parquet"):
        path = tmp_path / name
        bars = load_file(path)
        assert (bars.symbol, bars.interval) == ("SPX", "1d")
        np.testing.assert_array_equal(bars.ts, spx.ts)
        np.testing.assert_array_equal(bars.close, spx.close)
        np.testing.assert_array_equal(bars.open, spx.open)
        np.testing.assert_array_equal(bars.volume, spx.volume)


def test_hourly_bundled_data_infers_hours(tmp_path: Path) -> None:
    fx = load_bars("EURUSD", "2017-03", "2017-03")
    table = pa.table(
        {"ts": pa.array(fx.ts, pa.timestamp("ns", tz="UTC")), "open": fx.open,
         "high": fx.high, "low": fx.low, "close": fx.close}
    )  # fmt: skip
    pq.write_table(table, tmp_path / "eur.parquet")
    bars = load_file(tmp_path / "eur.parquet")
    assert bars.interval == "1h" and len(bars) == len(fx)


# (rows after the header, 1-based line the error must name, reason it must give)
BAD_CSV = {
    "unparseable timestamp": (
        [GOOD[0], "2020-13-45,10,11,9,10.5,100", *GOOD[2:]], 3,
        "cannot parse timestamp '2020-13-45'",
    ),
    "unsorted": ([GOOD[0], GOOD[2], GOOD[1], GOOD[3]], 4, "timestamps are not sorted"),
    "duplicate": ([GOOD[0], GOOD[1], GOOD[1], GOOD[3]], 4, "duplicate timestamp 2020-01-03"),
    "nan": ([GOOD[0], "2020-01-03,10.5,NaN,10,11,200", *GOOD[2:]], 3,
            "missing value (NaN) in high"),
    "empty": ([GOOD[0], "2020-01-03,10.5,12,,11,200", *GOOD[2:]], 3, "empty value in low"),
    "empty timestamp": ([GOOD[0], ",10.5,12,10,11,200", *GOOD[2:]], 3, "empty value in timestamp"),
    "blank line": ([GOOD[0], "", *GOOD[1:]], 3, "empty value in timestamp"),
    "text": ([*GOOD[:3], "2020-01-07,11.2,11.8,11,abc,120"], 5, "not a number: 'abc' in close"),
    "high < low": ([GOOD[0], "2020-01-03,10.5,9,10,9.5,200", *GOOD[2:]], 3,
                   "high 9.0 is below low 10.0"),
    "open outside": ([GOOD[0], "2020-01-03,12.5,12,10,11,200", *GOOD[2:]], 3,
                     "open 12.5 is outside [low, high] = [10.0, 12.0]"),
    "close outside": ([GOOD[0], "2020-01-03,10.5,12,10,9.5,200", *GOOD[2:]], 3,
                      "close 9.5 is outside [low, high]"),
    "negative price": ([GOOD[0], "2020-01-03,-1,-0.5,-2,-1,200", *GOOD[2:]], 3,
                       "negative price: open -1.0"),
    "infinite price": ([GOOD[0], "2020-01-03,10.5,inf,10,11,200", *GOOD[2:]], 3,
                       "high is not a finite number (inf)"),
    "negative volume": ([*GOOD[:3], "2020-01-07,11.2,11.8,11,11.6,-5"], 5, "negative volume -5.0"),
}  # fmt: skip


@pytest.mark.parametrize(("rows", "line", "reason"), BAD_CSV.values(), ids=BAD_CSV.keys())
def test_bad_csv_names_file_line_and_reason(
    tmp_path: Path, rows: list[str], line: int, reason: str
) -> None:
    path = write_csv(tmp_path, rows)
    msg = error_of(path)
    assert msg.startswith(f"bad.csv line {line}: "), msg
    assert reason in msg
    assert str(path) in msg  # the full path is in the error's context too


def test_missing_columns_are_named(tmp_path: Path) -> None:
    path = write_csv(tmp_path, ["2020-01-02,10,9,10.5"], header="when,Open,Low,Close")
    msg = error_of(path)
    assert msg.startswith("bad.csv: missing column(s) timestamp, high")
    assert "'when'" in msg and str(path) in msg


def test_earliest_problem_is_reported_with_a_count_of_the_rest(tmp_path: Path) -> None:
    rows = [GOOD[0], "2020-01-03,10.5,12,10,11,-1", "2020-01-06,11,9,10.5,11.2,150",
            "2020-01-07,11.2,11.8,11,11.6,-2", "2020-01-08,11.2,11.8,11,11.6,-3"]  # fmt: skip
    msg = error_of(write_csv(tmp_path, rows))
    assert msg.startswith("bad.csv line 3: negative volume -1.0 (and 2 more rows like it)")


def test_bad_parquet_names_file_row_and_reason(tmp_path: Path) -> None:
    def write(name: str, **cols: list[float]) -> Path:
        ts = pd.date_range("2021-06-01 10:00", periods=3, freq="h", tz="UTC")
        base = {"open": [1.0, 1.0, 1.0], "high": [2.0, 2.0, 2.0], "low": [0.5, 0.5, 0.5],
                "close": [1.5, 1.5, 1.5], "volume": [1.0, 1.0, 1.0]}  # fmt: skip
        frame = pd.DataFrame({"timestamp": ts, **base, **cols})
        frame.to_parquet(tmp_path / name, index=False)
        return tmp_path / name

    assert load_file(write("ok.parquet")).interval == "1h"
    msg = error_of(write("nan.parquet", close=[1.5, float("nan"), 1.5]))
    assert msg.startswith("nan.parquet row 2: missing value (NaN) in close")
    msg = error_of(write("hl.parquet", high=[2.0, 2.0, 0.4]))
    assert msg.startswith("hl.parquet row 3: high 0.4 is below low 0.5")
    unsorted = pd.DataFrame(
        {"ts": pd.to_datetime(["2021-01-02", "2021-01-01"]), "open": [1.0, 1.0],
         "high": [1.0, 1.0], "low": [1.0, 1.0], "close": [1.0, 1.0]}
    )  # fmt: skip
    unsorted.to_parquet(tmp_path / "order.parquet")
    msg = error_of(tmp_path / "order.parquet")
    assert msg.startswith("order.parquet row 2: timestamps are not sorted")


def test_numeric_timestamps_are_refused_as_ambiguous(tmp_path: Path) -> None:
    frame = pd.DataFrame({"ts": [1, 2], "open": [1.0, 1.0], "high": [1.0, 1.0],
                          "low": [1.0, 1.0], "close": [1.0, 1.0]})  # fmt: skip
    frame.to_parquet(tmp_path / "epoch.parquet")
    msg = error_of(tmp_path / "epoch.parquet")
    assert msg.startswith("epoch.parquet: the timestamp column holds int64 values")


def test_file_level_problems(tmp_path: Path) -> None:
    assert "data file not found" in error_of(tmp_path / "nope.csv")
    (tmp_path / "prices.xlsx").write_bytes(b"PK")
    assert "prices.xlsx: unsupported file type" in error_of(tmp_path / "prices.xlsx")
    (tmp_path / "empty.csv").write_text("")
    assert "empty.csv: the file is empty" in error_of(tmp_path / "empty.csv")
    assert "bad.csv: no data rows" in error_of(write_csv(tmp_path, []))
    (tmp_path / "junk.parquet").write_bytes(b"not parquet at all")
    assert "junk.parquet: not a readable Parquet file" in error_of(tmp_path / "junk.parquet")
    ragged = write_csv(tmp_path, [GOOD[0], GOOD[1] + ",7"], name="ragged.csv")
    assert "Expected 6 fields in line 3, saw 7" in error_of(ragged)
    one = write_csv(tmp_path, GOOD[:1], name="one.csv")
    assert "one.csv: cannot infer the bar interval" in error_of(one)
    assert load_file(one, interval="1d").interval == "1d"
