"""The web process never imports the heavy libraries: they load in the worker,
inside a forecaster's fit or load."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("tensorflow", "keras", "prophet", "statsmodels", "cmdstanpy")

PROBE = """
import json, sys
import aaiti.asgi  # django.setup() and the ASGI application
from django.urls import get_resolver
get_resolver().url_patterns  # every URLconf, views and API modules included
import apps.mlmodels.services, apps.mlmodels.tasks, apps.mlmodels.api  # noqa
import apps.mlmodels.views, apps.mlmodels.forms, apps.mlmodels.admin  # noqa
heavy = %r
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in heavy)))
"""


def test_web_process_imports_no_heavy_library() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "aaiti.settings"}
    result = subprocess.run(
        [sys.executable, "-c", PROBE % (HEAVY,)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded == []
