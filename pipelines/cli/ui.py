"""``make ui``: the Dagster UI (``dg dev``, with its daemon) on ``ANALYTICS_UI_HOST:ANALYTICS_UI_PORT``
(127.0.0.1:3000), over the Dagster instance of ``make run``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pipelines.settings import SettingsError, load_settings

WORKSPACE = Path(__file__).resolve().parents[2] / "workspace.yaml"


def main() -> int:
    """Replace this process with ``dg dev``, or print a one-line error about the settings."""
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    dg = str(Path(sys.executable).parent / "dg")
    os.execv(dg, [dg, "dev", "-w", str(WORKSPACE), "-h", settings.ui.host, "-p", str(settings.ui.port)])


if __name__ == "__main__":
    raise SystemExit(main())
