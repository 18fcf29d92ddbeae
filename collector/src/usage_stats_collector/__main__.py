"""``python -m usage_stats_collector``."""

import sys

from .cli import main

sys.exit(main())
