"""The execution layer: the broker port, the pool, the simulated venue and the adapters.

Venue adapters load their SDK on use; build them through :func:`registry.build_pool`.
"""

from neural_trader.brokers.base import Broker, Capabilities, VenueError
from neural_trader.brokers.paper import FeeModel, PaperVenue
from neural_trader.brokers.paper_adapter import PaperBroker
from neural_trader.brokers.pool import BrokerPool

__all__ = [
    "Broker",
    "BrokerPool",
    "Capabilities",
    "FeeModel",
    "PaperBroker",
    "PaperVenue",
    "VenueError",
]
