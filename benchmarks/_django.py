"""Set up Django against a throwaway SQLite file for a benchmark run."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup(redis_db: int = 11) -> Path:
    """Point settings at a fresh temp dir (SQLite file, var/) and migrate."""
    var = Path(tempfile.mkdtemp(prefix="aaiti-bench-"))
    os.environ.setdefault("REDIS_URL", f"redis://127.0.0.1:6379/{redis_db}")
    os.environ["AAITI_VAR_DIR"] = str(var)
    os.environ["DATABASE_URL"] = f"sqlite:///{var / 'bench.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aaiti.settings")
    os.environ["CACHE_KEY_PREFIX"] = f"bench-{os.getpid()}"
    os.environ["CHANNELS_PREFIX"] = f"bench-{os.getpid()}"
    os.environ["DEMO_USER_EMAIL"] = ""
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return var
