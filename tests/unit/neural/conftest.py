"""Shared, small inputs for the forecasting tests: a few years of bundled SPX bars."""

from __future__ import annotations

import pytest

from neural_trader.core.market_data import BarSeries
from neural_trader.data.catalog import load_bars
from neural_trader.neural.features import ForecastDataset, build_features, prepare_dataset

FORECAST_WINDOW = 10


@pytest.fixture(scope="session")
def spx_bars() -> BarSeries:
    return load_bars("SPX", start="2009", end="2012")


@pytest.fixture(scope="session")
def spx_dataset(spx_bars: BarSeries) -> ForecastDataset:
    return prepare_dataset(build_features(spx_bars, horizons=(1, 5)), window=FORECAST_WINDOW)
