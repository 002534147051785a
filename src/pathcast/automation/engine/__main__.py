"""``python -m pathcast.automation.engine``: one engine worker process (see ``worker.main``)."""

from pathcast.automation.engine.worker import main

raise SystemExit(main())
