"""``make ui``: the Dagster UI (``dg dev``, with its daemon) on ``ANALYTICS_UI_HOST:ANALYTICS_UI_PORT``
(127.0.0.1:3000), over the Dagster instance of ``make run``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pipelines.settings import Settings, SettingsError, load_settings

WORKSPACE = Path(__file__).resolve().parents[2] / "workspace.yaml"


def dg_dev_command(settings: Settings) -> list[str]:
    """``dg dev`` (the ``dg`` installed with this interpreter) on the workspace, host and port of ``settings``."""
    dg = str(Path(sys.executable).parent / "dg")
    return [dg, "dev", "-w", str(WORKSPACE), "-h", settings.ui.host, "-p", str(settings.ui.port)]


def main() -> int:
    """Replace this process with ``dg dev``, or print a one-line error about the settings."""
    try:
        settings = load_settings()
    except SettingsError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    command = dg_dev_command(settings)
    os.execv(command[0], command)


if __name__ == "__main__":
    raise SystemExit(main())
