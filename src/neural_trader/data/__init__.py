"""Market data: the datasets bundled with the package, and loading users' own files.

``list_datasets()`` describes the bundled data, ``load_bars("SPX", start=..., end=...)``
returns it as a validated :class:`~neural_trader.core.market_data.BarSeries`, and
``load_file(path)`` does the same for a CSV or Parquet file, reporting the file, line and
reason of the first problem it finds. ``derived_ticks(bars, spread=...)`` turns bars into a
synthetic, clearly derived trade and quote stream for strategies that quote.
``load_quotes(path)`` reads recorded best bid/ask quotes of several symbols (venues) from one
file, ``cross_venue_quotes``/``triangular_quotes`` **generate** seeded multi-venue quote streams
for arbitrage backtests, and ``quote_bars`` makes the mid bars a tick backtest marks by.
Sources and licences: ``DATA_SOURCES.md``.
"""

from neural_trader.data.catalog import DatasetInfo, list_datasets, load_bars
from neural_trader.data.files import load_file
from neural_trader.data.quotes import load_quotes, quote_bars
from neural_trader.data.ticks import derived_ticks
from neural_trader.data.venue_quotes import (
    QuoteModel,
    QuoteSet,
    cross_venue_quotes,
    triangular_quotes,
)

__all__ = [
    "DatasetInfo",
    "QuoteModel",
    "QuoteSet",
    "cross_venue_quotes",
    "derived_ticks",
    "list_datasets",
    "load_bars",
    "load_file",
    "load_quotes",
    "quote_bars",
    "triangular_quotes",
]
