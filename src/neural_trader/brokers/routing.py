"""Which venue an order goes to.

Rules, in order: a rule for the order's symbol; else a rule for its asset class; else, when the
pool has exactly one venue, that venue. A rule lists venues in preference order: the first is
where orders go, the later ones are backups the user allows orders to fail over to while the
first is down. An order that matches no rule is refused (no venue is guessed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from neural_trader.brokers.base import Failure, VenueError
from neural_trader.core.instruments import AssetClass

_ASSET_CLASSES = frozenset(a.value for a in AssetClass)


@dataclass(frozen=True)
class Router:
    by_symbol: Mapping[str, tuple[str, ...]]
    by_asset_class: Mapping[AssetClass, tuple[str, ...]]
    venues: tuple[str, ...]

    @classmethod
    def from_rules(cls, rules: Mapping[str, Sequence[str]], venues: Sequence[str]) -> Router:
        """``rules`` keys are asset classes (``equity``, ``crypto``, ...) or symbols."""
        known = set(venues)
        by_symbol: dict[str, tuple[str, ...]] = {}
        by_class: dict[AssetClass, tuple[str, ...]] = {}
        for key, names in rules.items():
            missing = [n for n in names if n not in known]
            if missing or not names:
                raise VenueError(
                    f"route {key!r} names {', '.join(missing) or 'no venue'}, "
                    f"not among the pool's venues ({', '.join(venues) or 'none'})",
                    Failure.NO_ROUTE,
                    route=key,
                )
            if key.lower() in _ASSET_CLASSES:
                by_class[AssetClass(key.lower())] = tuple(names)
            else:
                by_symbol[key] = tuple(names)
        return cls(by_symbol, by_class, tuple(venues))

    def venues_for(self, symbol: str, asset_class: AssetClass | None) -> tuple[str, ...]:
        """The venues for ``symbol`` in preference order (the first is the primary)."""
        chosen = self.by_symbol.get(symbol)
        if chosen is None and asset_class is not None:
            chosen = self.by_asset_class.get(asset_class)
        if chosen is None and len(self.venues) == 1:
            chosen = self.venues
        if chosen is None:
            what = f"{symbol} ({asset_class.value})" if asset_class is not None else symbol
            raise VenueError(
                f"no route for {what}: add a [brokers] routes entry for the symbol or its "
                "asset class",
                Failure.NO_ROUTE,
                symbol=symbol,
            )
        return chosen
