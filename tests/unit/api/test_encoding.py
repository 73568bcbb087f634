"""The API's text forms of exact amounts and times, against the arithmetic they stand for."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from decimal import Decimal

from neural_trader.api.encoding import exact, iso_ns


def test_exact_text_is_the_same_number_without_trailing_zeros() -> None:
    rng = random.Random(7)
    fixed = ("1187.70", "100", "1E+2", "-0.00", "0.000000100", "1E-9", "12.5000", "-3.10")
    cases = [Decimal(text) for text in fixed]
    for _ in range(2000):
        digits = rng.randint(0, 10**12)
        cases.append(Decimal(digits).scaleb(rng.randint(-12, 4)) * rng.choice((1, -1)))
    for value in cases:
        text = exact(value)
        assert text is not None
        assert Decimal(text) == value  # the same number
        _, digits, exponent = Decimal(text).as_tuple()
        assert isinstance(exponent, int)
        if exponent < 0:  # a fraction ends in a significant digit
            assert digits[-1] != 0
        else:  # an integer is written out in full
            assert exponent == 0 and "E" not in text
    assert exact(None) is None


def test_iso_ns_is_utc_iso_8601() -> None:
    ts = 1_700_000_000_123_456_000
    expected = datetime.fromtimestamp(1_700_000_000.123456, tz=UTC)
    assert iso_ns(ts) == expected.isoformat().replace("+00:00", "Z")
    assert iso_ns(ts) == "2023-11-14T22:13:20.123456Z" and iso_ns(None) is None
