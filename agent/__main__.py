"""Allow `python -m agent`, the same as the `pelihara-agent` command."""

from agent.cli import main

raise SystemExit(main())
