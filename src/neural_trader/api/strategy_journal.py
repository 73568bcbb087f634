"""What operators do to the paper session's strategies over the API (execute, configure,
pause, start, stop) is kept as events of the account and done again when the server
restarts: a paused strategy stays paused, a stopped one stays stopped (its positions were
closed then if asked; they are not closed twice), one added or reconfigured comes back with
its parameters and share. A change that no longer applies (the strategy left the
configuration, its parameters no longer validate) is logged and skipped."""

from __future__ import annotations

from typing import Any

import structlog

from neural_trader.errors import NeuralTraderError
from neural_trader.storage import Store
from neural_trader.storage.queries import events_of
from neural_trader.strategies import strategy_class
from neural_trader.strategies.services import StrategyServices, attach_services
from neural_trader.trading.session import PaperSession

KIND = "strategy"
log = structlog.get_logger("neural_trader.api")


class StrategyJournal:
    def __init__(
        self, store: Store, account: str, session: PaperSession, services: StrategyServices
    ) -> None:
        self.store = store
        self.account = account
        self.session = session
        self.services = services

    def record(self, action: str, strategy_id: str, **details: Any) -> None:
        """Keep one change that has been made (stored at once: changes are rare)."""
        payload = {"action": action, "id": strategy_id, **details}
        self.store.record_event(self.account, self.session.kernel.event_ts, KIND, payload)

    def replay(self) -> int:
        """Make the recorded changes again, in order, on a session not yet running; returns
        how many applied."""
        applied = 0
        for event in events_of(self.store, self.account, KIND):
            change = event["payload"]
            try:
                self._apply(change)
                applied += 1
            except (NeuralTraderError, KeyError, TypeError) as exc:
                log.warning("a strategy change was not restored", change=change, error=str(exc))
        return applied

    def _apply(self, change: dict[str, Any]) -> None:
        manager = self.session.manager
        sid, action = change["id"], change["action"]
        if action == "execute":
            cls = strategy_class(change["strategy"])
            new = cls.from_params(change["params"], sid, change["symbols"])
            self.session.add_strategy(attach_services(new, self.services), change["allocation"])
        elif action == "configure":
            old = manager.get(sid).inner
            new = type(old).from_params(change["params"], sid, old.symbols)
            manager.configure(sid, attach_services(new, self.services))
        elif action == "pause":
            manager.pause(sid)
        elif action == "start":
            manager.start(sid)
        elif action == "stop":
            manager.stop(sid)  # positions were flattened when it happened, if asked
        else:
            raise KeyError(f"unknown strategy change {action!r}")
