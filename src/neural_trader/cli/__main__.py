"""Allow ``python -m neural_trader.cli``."""

import sys

from neural_trader.cli import main

sys.exit(main())
