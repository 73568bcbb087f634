"""Market data: the datasets bundled with the package, and loading users' own files.

``list_datasets()`` describes the bundled data, ``load_bars("SPX", start=..., end=...)``
returns it as a validated :class:`~neural_trader.core.market_data.BarSeries`, and
``load_file(path)`` does the same for a CSV or Parquet file, reporting the file, line and
reason of the first problem it finds. ``derived_ticks(bars, spread=...)`` turns bars into a
synthetic, clearly derived trade and quote stream for strategies that quote. Sources and
licences: ``DATA_SOURCES.md``.
"""

from neural_trader.data.catalog import DatasetInfo, list_datasets, load_bars
from neural_trader.data.files import load_file
from neural_trader.data.ticks import derived_ticks

__all__ = ["DatasetInfo", "derived_ticks", "list_datasets", "load_bars", "load_file"]
