"""Run the collector command line as `python -m collector`."""

import sys

from collector.cli import main

sys.exit(main())
