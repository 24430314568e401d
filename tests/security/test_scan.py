"""`make scan` (scripts/scan.py): each scanner fails the run on a finding, the
audit's exceptions need a written reason, and pins it cannot audit are named."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

import scan  # noqa: E402

SHELL_INJECTION = """import subprocess


def run(name: str) -> None:
    subprocess.call("ls " + name, shell=True)
"""


@pytest.fixture
def lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    locked = tmp_path / "constraints.txt"
    locked.write_text("Django==5.2.19\npycrypto==2.6.1\nsix==1.17.0  # a comment\n")
    monkeypatch.setattr(scan, "LOCKED", locked)
    monkeypatch.setattr(scan, "IGNORE_FILE", tmp_path / "audit-ignore.txt")
    return tmp_path


def project(version: str, vulns: list[dict] | None = None) -> dict:
    return {"info": {"version": version}, "vulnerabilities": vulns or []}


PYCRYPTO_VULN = {
    "id": "PYSEC-2018-97",
    "aliases": ["CVE-2018-6594"],
    "fixed_in": [],
}
# PyPI lists the same flaw again under its GitHub advisory id.
PYCRYPTO_AGAIN = {
    "id": "GHSA-6528-wvf6-f6qg",
    "aliases": ["CVE-2018-6594", "PYSEC-2018-97"],
    "fixed_in": [],
}


def skipped(*names: str) -> dict:
    return {
        "dependencies": [
            {"name": n, "skip_reason": "Dependency not found on PyPI"} for n in names
        ]
    }


def test_bandit_finds_shell_injection_and_the_scan_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(SHELL_INJECTION)
    monkeypatch.setattr(scan, "BANDIT_TARGETS", [str(bad)])
    assert scan.main(["--only", "bandit"]) == 1
    out = capsys.readouterr().out
    assert "B602" in out and "bad.py:5" in out


def test_bandit_passes_clean_code(tmp_path: Path) -> None:
    good = tmp_path / "good.py"
    good.write_text("def add(a: int, b: int) -> int:\n    return a + b\n")
    assert scan.scan_bandit([str(good)])


def test_pip_audit_finding_fails_and_names_the_fix(lock: Path, capsys) -> None:
    report = {
        "dependencies": [
            {
                "name": "Django",
                "version": "5.2.19",
                "vulns": [
                    {"id": "PYSEC-0000-1", "fix_versions": ["5.2.20"], "aliases": []}
                ],
            },
            {"name": "six", "version": "1.17.0", "vulns": []},
            {"name": "pycrypto", "version": "2.6.1", "vulns": []},
        ]
    }
    assert not scan.scan_audit(strict=False, report=report, fetch=_no_network)
    out = capsys.readouterr().out
    assert "VULNERABLE django 5.2.19: PYSEC-0000-1; fixed in: 5.2.20" in out
    assert "3 pins, 3 audited, 1 vulnerable" in out


def test_an_ignored_vulnerability_passes_with_its_reason(lock: Path, capsys) -> None:
    (lock / "audit-ignore.txt").write_text(
        "# header\nCVE-2018-6594  # not reachable: we never import Crypto\n"
    )
    fetch = {"pycrypto": project("2.6.1", [PYCRYPTO_VULN])}.__getitem__
    assert scan.scan_audit(strict=False, report=skipped("pycrypto"), fetch=fetch)
    out = capsys.readouterr().out
    assert (
        "ignored pycrypto CVE-2018-6594: not reachable: we never import Crypto" in out
    )


def test_an_ignore_without_a_reason_is_refused(lock: Path) -> None:
    (lock / "audit-ignore.txt").write_text("PYSEC-2018-97\n")
    with pytest.raises(scan.ScanError, match="needs a written reason"):
        scan.read_ignores(lock / "audit-ignore.txt")
    assert scan.main(["--only", "audit"]) == 2


def test_skipped_pins_fall_back_to_the_latest_release_data(lock: Path, capsys) -> None:
    answers = {
        "pycrypto": project("2.6.1", [PYCRYPTO_VULN, PYCRYPTO_AGAIN]),  # the latest
        "django": project("6.1.3"),  # pinned is older: no answer for it
    }

    def fetch(name: str) -> dict:
        if name not in answers:
            raise OSError("connection refused")
        return answers[name]

    report = skipped("Django", "pycrypto", "six")
    assert not scan.scan_audit(strict=False, report=report, fetch=fetch)
    out = capsys.readouterr().out
    assert "VULNERABLE pycrypto 2.6.1: PYSEC-2018-97 (CVE-2018-6594)" in out
    assert (
        "3 pins, 1 audited, 1 vulnerable, 0 ignored with a reason, 2 not audited" in out
    )
    assert "not audited: django==5.2.19: pinned 5.2.19, latest 6.1.3" in out
    assert "not audited: six==1.17.0: project JSON unavailable" in out


def test_unaudited_pins_fail_only_when_strict(lock: Path) -> None:
    fetch = {"six": project("1.17.1"), "pycrypto": project("2.6.1")}.get
    report = {
        "dependencies": [
            {"name": "Django", "version": "5.2.19", "vulns": []},
            {"name": "pycrypto", "skip_reason": "not found"},
            {"name": "six", "skip_reason": "not found"},
        ]
    }
    assert scan.scan_audit(strict=False, report=report, fetch=fetch)
    assert not scan.scan_audit(strict=True, report=report, fetch=fetch)


def test_the_lock_file_is_exact_pins_only(tmp_path: Path) -> None:
    pins = scan.read_pins(scan.LOCKED)
    assert pins["django"] and pins["pip-audit"] and pins["bandit"]
    loose = tmp_path / "loose.txt"
    loose.write_text("Django>=5\n")
    with pytest.raises(scan.ScanError, match="not an exact pin"):
        scan.read_pins(loose)


def _no_network(name: str) -> dict:
    raise AssertionError(f"pip-audit answered for every pin; {name} was fetched")


def test_pip_audit_out_of_reach_leaves_every_pin_unaudited(
    lock: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    offline = scan.subprocess.CompletedProcess(
        [],
        1,
        stdout="",
        stderr="Traceback ...\nrequests.exceptions.ConnectionError: Max retries exceeded",
    )
    monkeypatch.setattr(scan, "run", lambda command: offline)
    monkeypatch.setattr(scan, "tool", lambda name: name)

    def unreachable(name: str) -> dict:
        raise OSError("no route to host")

    assert scan.scan_audit(strict=False, fetch=unreachable)
    out = capsys.readouterr().out
    assert (
        "3 pins, 0 audited, 0 vulnerable, 0 ignored with a reason, 3 not audited" in out
    )
    assert not scan.scan_audit(strict=True, fetch=unreachable)


def test_pip_audit_crashing_otherwise_is_an_error(
    lock: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = scan.subprocess.CompletedProcess([], 1, stdout="", stderr="KeyError: 'x'")
    monkeypatch.setattr(scan, "run", lambda command: broken)
    monkeypatch.setattr(scan, "tool", lambda name: name)
    with pytest.raises(scan.ScanError, match="pip-audit failed to run"):
        scan.scan_audit(strict=False, fetch=_no_network)
