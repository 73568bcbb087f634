"""``neural-trader backtest --strategy sentiment --news FILE`` in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BASE = [sys.executable, "-m", "neural_trader.cli", "backtest", "--strategy", "sentiment"]


def test_a_news_file_drives_the_sentiment_backtest(tmp_path: Path) -> None:
    news = tmp_path / "news.csv"
    news.write_text(
        "time,symbols,headline\n"
        "2015-03-02T14:30:00Z,AAPL,Margins improve on strong demand\n"
        "2015-03-10T15:00:00Z,AAPL,Sales decline as losses widen\n",
        encoding="utf-8",
    )
    args = ["--symbol", "AAPL", "--start", "2015-02-01", "--end", "2015-04-30", "--no-report"]
    out = subprocess.run(
        [*BASE, *args, "--news", str(news), "--json"], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["num_trades"] == 1
    news.write_text("time,symbols,headline\nsoon,AAPL,Up\n", encoding="utf-8")
    bad = subprocess.run([*BASE, *args, "--news", str(news)], capture_output=True, text=True)
    assert bad.returncode == 4 and "news.csv line 2: time 'soon'" in bad.stderr
    assert "Traceback" not in bad.stderr
