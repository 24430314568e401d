"""`make test`: find or start a Redis, then run the whole pytest suite.

Tests use their own Redis database number (15 unless AAITI_TEST_REDIS_DB says
otherwise) and key prefixes, so a developer's running app is not disturbed.
Arguments are passed to pytest.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from redis_boot import ROOT, ensure_redis


def main(argv: list[str]) -> int:
    var_dir = Path(os.environ.get("AAITI_VAR_DIR", ROOT / "var"))
    var_dir.mkdir(parents=True, exist_ok=True)
    db = int(os.environ.get("AAITI_TEST_REDIS_DB", "15"))
    redis = ensure_redis(var_dir, db=db)
    env = dict(os.environ, REDIS_URL=redis.url, AAITI_TESTING="1", PYTHONUNBUFFERED="1")
    env["PATH"] = os.pathsep.join(
        [str(Path(sys.executable).parent), env.get("PATH", "")]
    )
    where = "embedded" if redis.embedded else "existing"
    print(f"tests: {where} Redis at {redis.url}", flush=True)
    try:
        command = [sys.executable, "-m", "pytest", *argv]
        return subprocess.call(command, cwd=ROOT, env=env)  # noqa: S603 - our interpreter; the rest is pytest argv from the caller  # nosec B603
    finally:
        redis.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
