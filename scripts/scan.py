"""`make scan`: the security scanners, each clean or failing the run.

1. ruff with the S (flake8-bandit) rules over the whole tree;
2. bandit over the application code (apps, aaiti, scripts), configured in
   pyproject.toml;
3. pip-audit over the locked set, requirements/constraints.txt, ignoring only the
   vulnerabilities listed with a reason in requirements/audit-ignore.txt.

pip-audit asks PyPI's per-release JSON for each pin's known vulnerabilities. Where
that does not answer (an index mirror without it, as on the machines this project is
built on) pip-audit skips the pin; this script then reads the project's JSON, whose
`vulnerabilities` list is that of the latest release: exact for a pin that is the
latest release, silent for an older one. Pins audited by neither are listed as not
audited. They fail the run only with --strict-audit (or SCAN_STRICT_AUDIT=1), since a
vulnerability service out of reach is not a finding; a finding always fails it.

Exit status: 0 clean, 1 a finding (or unaudited pins under --strict-audit), 2 a
scanner that could not run or an ignore entry without a reason.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LOCKED = ROOT / "requirements" / "constraints.txt"
IGNORE_FILE = ROOT / "requirements" / "audit-ignore.txt"
PYPI_JSON = "https://pypi.org/pypi/{name}/json"
BANDIT_TARGETS = ["apps", "aaiti", "scripts", "manage.py"]


class ScanError(Exception):
    """A scanner could not run or its configuration is wrong (exit 2)."""


def tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        raise ScanError(f"{name} is not installed in {BIN}; run `make scan` (dev deps)")
    return str(path)


def run(command: list[str]) -> subprocess.CompletedProcess[str]:
    # Fixed argv: our own virtualenv's tools and our own paths, no shell.
    return subprocess.run(  # noqa: S603 - argv built here from fixed tool paths  # nosec B603
        command, cwd=ROOT, capture_output=True, text=True, check=False
    )


# --- ruff and bandit ---------------------------------------------------------


def scan_ruff() -> bool:
    done = run([tool("ruff"), "check", "--select", "S", "--no-fix", "."])
    print(done.stdout.strip() or done.stderr.strip())
    if done.returncode not in (0, 1):
        raise ScanError(f"ruff failed to run: {done.stderr.strip()}")
    return done.returncode == 0


def scan_bandit(targets: Iterable[str] | None = None) -> bool:
    targets = BANDIT_TARGETS if targets is None else targets
    command = [tool("bandit"), "-c", "pyproject.toml", "-q", "-r", *targets]
    template = "{relpath}:{line}: {test_id} [{severity}/{confidence}] {msg}"
    done = run([*command, "-f", "custom", "--msg-template", template])
    if done.returncode not in (0, 1):
        raise ScanError(f"bandit failed to run: {done.stderr.strip()}")
    findings = [line for line in done.stdout.splitlines() if line.strip()]
    for line in findings:
        print(line)
    if done.returncode == 0:
        print("bandit: no issues")
    return done.returncode == 0


# --- pip-audit -----------------------------------------------------------------


@dataclass(frozen=True)
class Vuln:
    package: str
    version: str
    id: str
    aliases: tuple[str, ...] = ()
    fix_versions: tuple[str, ...] = ()

    def ids(self) -> set[str]:
        return {self.id, *self.aliases}

    def __str__(self) -> str:
        also = f" ({', '.join(self.aliases)})" if self.aliases else ""
        fix = ", ".join(self.fix_versions) or "no fixed release"
        return f"{self.package} {self.version}: {self.id}{also}; fixed in: {fix}"


@dataclass
class AuditResult:
    vulns: list[Vuln] = field(default_factory=list)
    audited: list[str] = field(default_factory=list)
    # package -> why it could not be audited
    unaudited: dict[str, str] = field(default_factory=dict)


def read_ignores(path: Path | None = None) -> dict[str, str]:
    """`ID  # reason` per line; a line without a reason is refused."""
    path = IGNORE_FILE if path is None else path
    ignores: dict[str, str] = {}
    if not path.exists():
        return ignores
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        vuln_id, _, reason = line.partition("#")
        vuln_id, reason = vuln_id.strip(), reason.strip()
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:-]*", vuln_id):
            raise ScanError(
                f"{path.name}:{number}: not a vulnerability id: {vuln_id!r}"
            )
        if not reason:
            raise ScanError(f"{path.name}:{number}: {vuln_id} needs a written reason")
        ignores[vuln_id] = reason
    return ignores


def read_pins(path: Path | None = None) -> dict[str, str]:
    path = LOCKED if path is None else path
    pins: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        if not sep:
            raise ScanError(f"{path.name}: not an exact pin: {line!r}")
        pins[canonical(name)] = version.strip()
    return pins


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower().strip()


def parse_pip_audit(report: dict) -> AuditResult:
    """pip-audit's JSON report: found vulnerabilities and skipped pins."""
    result = AuditResult()
    for dep in report.get("dependencies", []):
        name = canonical(dep["name"])
        if "skip_reason" in dep:
            result.unaudited[name] = dep["skip_reason"]
            continue
        result.audited.append(name)
        for v in dep.get("vulns", []):
            result.vulns.append(
                Vuln(
                    name,
                    dep["version"],
                    v["id"],
                    tuple(v.get("aliases", [])),
                    tuple(v.get("fix_versions", [])),
                )
            )
    return result


def fetch_project(name: str) -> dict:
    url = PYPI_JSON.format(name=name)
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - a fixed https URL  # nosec B310
        return json.load(response)


def audit_latest(
    pins: dict[str, str],
    names: Iterable[str],
    fetch: Callable[[str], dict] = fetch_project,
) -> AuditResult:
    """Audit from the project JSON: its vulnerabilities are the latest release's."""
    result = AuditResult()

    def one(name: str) -> tuple[str, dict | None, str]:
        try:
            return name, fetch(name), ""
        except Exception as exc:  # network or JSON errors: reported, not fatal
            return name, None, f"project JSON unavailable: {exc}"

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(one, sorted(names)))
    for name, project, error in answers:
        version = pins[name]
        if project is None:
            result.unaudited[name] = error
            continue
        latest = project["info"]["version"]
        if latest != version:
            result.unaudited[name] = (
                f"pinned {version}, latest {latest}: this index answers "
                "vulnerabilities for the latest release only"
            )
            continue
        result.audited.append(name)
        seen: set[str] = set()  # PyPI lists one flaw under each of its ids
        for v in project.get("vulnerabilities") or []:
            vuln = Vuln(
                name,
                version,
                v["id"],
                tuple(v.get("aliases") or []),
                tuple(v.get("fixed_in") or []),
            )
            if not vuln.ids() & seen:
                result.vulns.append(vuln)
            seen |= vuln.ids()
    return result


# pip-audit's own words when its vulnerability service cannot be reached at all.
OFFLINE = re.compile(
    r"ConnectionError|ProxyError|ConnectTimeout|ReadTimeout|Max retries"
)


def run_pip_audit(ignores: dict[str, str], pins: dict[str, str]) -> dict:
    """pip-audit's JSON report; every pin skipped when its service is out of reach."""
    command = [
        tool("pip-audit"),
        "-r",
        str(LOCKED),
        "--no-deps",
        "--disable-pip",
        "--progress-spinner",
        "off",
        "--format",
        "json",
    ]
    for vuln_id in ignores:
        command += ["--ignore-vuln", vuln_id]
    done = run(command)
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError:
        last = (done.stderr.strip().splitlines() or [""])[-1]
        if OFFLINE.search(last):
            why = f"pip-audit could not reach its service: {last[:200]}"
            return {"dependencies": [{"name": n, "skip_reason": why} for n in pins]}
        raise ScanError(
            f"pip-audit failed to run: {done.stderr.strip()[-2000:]}"
        ) from None


def scan_audit(
    *,
    strict: bool,
    report: dict | None = None,
    fetch: Callable[[str], dict] = fetch_project,
) -> bool:
    ignores = read_ignores()
    pins = read_pins()
    if report is None:
        report = run_pip_audit(ignores, pins)
    result = parse_pip_audit(report)
    if result.unaudited:
        fallback = audit_latest(pins, result.unaudited, fetch)
        for name in fallback.audited:
            result.unaudited.pop(name)
        result.audited += fallback.audited
        result.unaudited.update(fallback.unaudited)
        result.vulns += fallback.vulns
    found = [v for v in result.vulns if not v.ids() & ignores.keys()]
    ignored = [v for v in result.vulns if v.ids() & ignores.keys()]
    for v in found:
        print(f"VULNERABLE {v}")
    for v in ignored:
        vuln_id = sorted(v.ids() & ignores.keys())[0]
        print(f"ignored {v.package} {vuln_id}: {ignores[vuln_id]}")
    print(
        f"pip-audit: {len(pins)} pins, {len(result.audited)} audited, "
        f"{len(found)} vulnerable, {len(ignored)} ignored with a reason, "
        f"{len(result.unaudited)} not audited"
    )
    for name, why in sorted(result.unaudited.items()):
        print(f"  not audited: {name}=={pins.get(name, '?')}: {why}")
    if result.unaudited and strict:
        print("pip-audit: unaudited pins fail the run (--strict-audit)")
        return False
    return not found


# --- main ----------------------------------------------------------------------

SCANS = ("ruff", "bandit", "audit")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=SCANS, action="append", help="run one scan")
    parser.add_argument(
        "--strict-audit",
        action="store_true",
        default=os.environ.get("SCAN_STRICT_AUDIT") == "1",
        help="fail when a pin could not be audited",
    )
    args = parser.parse_args(argv)
    failed: list[str] = []
    try:
        for name in args.only or SCANS:
            print(f"== scan: {name}", flush=True)
            if name == "ruff":
                ok = scan_ruff()
            elif name == "bandit":
                ok = scan_bandit()
            else:
                ok = scan_audit(strict=args.strict_audit)
            if not ok:
                failed.append(name)
    except ScanError as exc:
        print(f"scan: {exc}", file=sys.stderr)
        return 2
    if failed:
        print(f"scan: findings in {', '.join(failed)}", file=sys.stderr)
        return 1
    print("scan: clean")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
