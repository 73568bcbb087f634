"""Loughran-McDonald scores on headlines whose LM words are known, and the decay closed form."""

from __future__ import annotations

import pandas as pd
import pytest

from neural_trader.errors import StrategyError
from neural_trader.news import DecayedSentiment, headline_score
from neural_trader.news.sentiment import dictionary_path, lm_words

EPS = 1e-6


@pytest.mark.parametrize(
    ("headline", "positive", "negative"),
    [
        ("Sales decline as losses widen", 0, 2),
        ("Margins improve on strong demand", 2, 0),
        ("Weak guidance offsets gain", 1, 1),
        ("Board meets on Tuesday", 0, 0),
        ("Regulator's lawsuit triggers losses", 0, 1),  # a lawsuit is litigious, not negative
    ],
)
def test_polarity_is_p_minus_n_over_p_plus_n(headline: str, positive: int, negative: int) -> None:
    expected = (positive - negative) / (positive + negative + EPS)
    assert headline_score(headline) == pytest.approx(expected, abs=1e-9)


def test_the_words_are_flagged_so_in_the_master_dictionary() -> None:
    frame = pd.read_csv(dictionary_path(), usecols=["Word", "Positive", "Negative"])
    flags = frame.set_index("Word")
    for word in ("IMPROVE", "STRONG", "GAIN"):
        assert flags.loc[word, "Positive"] > 0 and flags.loc[word, "Negative"] == 0
    for word in ("DECLINE", "LOSSES", "WEAK"):
        assert flags.loc[word, "Negative"] > 0 and flags.loc[word, "Positive"] == 0
    for word in ("LAWSUIT", "TAX", "LIABILITY", "SALES", "BOARD"):
        assert flags.loc[word, "Negative"] == 0 and flags.loc[word, "Positive"] == 0
    positive, negative = lm_words()
    assert len(positive) == int((frame.Positive > 0).sum()) > 300
    assert len(negative) == int((frame.Negative > 0).sum()) > 2000


def test_decayed_sum_has_its_closed_form() -> None:
    h = 3_600 * 10**9
    s = DecayedSentiment(half_life_ns=h)
    s.add("AAPL", 0, 1.0)
    s.add("AAPL", 2 * h, -0.5)
    assert s.value("AAPL", 3 * h) == pytest.approx(1.0 * 2**-3 - 0.5 * 2**-1)
    assert s.value("MSFT", 3 * h) == 0.0
    with pytest.raises(StrategyError, match="before its last item"):
        s.value("AAPL", h)
    with pytest.raises(StrategyError, match="half life must be positive"):
        DecayedSentiment(0)
