"""Reliability suite: bad inputs and injected faults, each recorded as a case with its outcome.

Every test declares what it tries (`case.describe(given, expected)`) and what it saw
(`case.observe(text)`); trials inside one test (the SIGKILL trials) are recorded as sub-cases.
At the end pytest prints "reliability: N cases tried, M passed". With RELIABILITY_REPORT=PATH set,
the cases are also written as a Markdown table (see docs/RELIABILITY.md and make_report.py).
"""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest

HERE = Path(__file__).parent


@dataclass
class Case:
    group: str
    name: str
    given: str = ""
    expected: str = ""
    observed: str = ""
    passed: bool | None = None  # None: not decided yet (the test's own outcome decides)
    nodeid: str = ""


@dataclass
class CaseLog:
    """What one test tried: its own case, or sub-cases when it runs several trials."""

    main: Case
    subs: list[Case] = field(default_factory=list)

    def describe(self, given: str, expected: str, name: str | None = None) -> None:
        self.main.given, self.main.expected = given, expected
        if name:
            self.main.name = name

    def observe(self, text: str) -> None:
        self.main.observed = text

    def sub(self, name: str, given: str, expected: str, observed: str, passed: bool) -> Case:
        case = Case(self.main.group, name, given, expected, observed, passed, self.main.nodeid)
        self.subs.append(case)
        return case

    def cases(self) -> list[Case]:
        return self.subs if self.subs else [self.main]


_LOGS: dict[str, CaseLog] = {}
# Seconds spent in the reliability tests themselves (setup, call, teardown), whatever else the pytest
# session ran: the summary line reports the suite's own cost.
_SPENT = {"seconds": 0.0}


def _group_of(item: pytest.Item) -> str:
    module = getattr(item, "module", None)
    return getattr(module, "GROUP", None) or Path(str(item.fspath)).stem


def _title_of(item: pytest.Item) -> str:
    name = item.name
    base, _, param = name.partition("[")
    base = base.removeprefix("test_").replace("_", " ")
    return f"{base} [{param}" if param else base


@pytest.fixture
def case(request) -> CaseLog:
    log = _LOGS.get(request.node.nodeid)
    if log is None:
        log = CaseLog(Case(_group_of(request.node), _title_of(request.node), nodeid=request.node.nodeid))
        _LOGS[request.node.nodeid] = log
    return log


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not str(item.fspath).startswith(str(HERE)):
        return
    _SPENT["seconds"] += report.duration
    log = _LOGS.get(item.nodeid)
    if log is None:
        return
    if report.when == "call" or (report.when == "setup" and report.failed):
        log.main.passed = report.passed
        if report.failed:
            message = str(report.longrepr).strip().splitlines()
            detail = next(
                (ln for ln in reversed(message) if ln.startswith("E ")), message[-1] if message else ""
            )
            log.main.observed = f"FAILED: {detail[:300]}" + (
                f" ({log.main.observed})" if log.main.observed else ""
            )
            for sub in log.subs:
                if sub.passed is None:
                    sub.passed = False


def all_cases() -> list[Case]:
    cases = []
    for log in _LOGS.values():
        for c in log.cases():
            if c is log.main and c.passed is None:
                continue  # never ran to a verdict (e.g. deselected)
            cases.append(c)
    return cases


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    cases = all_cases()
    if not cases:
        return
    passed = sum(1 for c in cases if c.passed)
    seconds = _SPENT["seconds"]
    terminalreporter.write_sep("-", "reliability")
    terminalreporter.write_line(
        f"reliability: {len(cases)} cases tried, {passed} passed ({seconds:.0f} s in the reliability tests)"
    )
    for c in cases:
        if not c.passed:
            terminalreporter.write_line(f"  not passed: {c.group}: {c.name}: {c.observed}")
    target = os.environ.get("RELIABILITY_REPORT")
    if target:
        from importlib.util import module_from_spec, spec_from_file_location

        spec = spec_from_file_location("reliability_make_report", HERE / "make_report.py")
        module = module_from_spec(spec)
        spec.loader.exec_module(module)
        environment = (
            f"{datetime.now():%Y-%m-%d}, Python {platform.python_version()} on {platform.system()} "
            f"{platform.machine()}, {os.cpu_count()} CPU cores, running as "
            f"{'root' if hasattr(os, 'geteuid') and os.geteuid() == 0 else 'a normal user'}"
        )
        Path(target).write_text(module.render(cases, seconds, environment), encoding="utf-8")
        terminalreporter.write_line(f"reliability report written to {target}")


# ---- shared helpers for the tests -----------------------------------------------------------------
@dataclass
class CliResult:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return [ln for ln in self.err.splitlines() if ln.strip()]

    @property
    def error_line(self) -> str:
        errors = [ln for ln in self.err_lines if ln.startswith("error: ")]
        return errors[0] if len(errors) == 1 else ""


class Cli:
    """`ssl-core` in this process, as a person runs it, with the checks every refusal must pass."""

    def __init__(self, capsys):
        self.capsys = capsys

    def run(self, *argv: str) -> CliResult:
        from ssl_core.cli.main import main

        self.capsys.readouterr()
        code = main([str(a) for a in argv])
        out, err = self.capsys.readouterr()
        return CliResult(code, out, err)

    @staticmethod
    def assert_refused(result: CliResult, *needles: str) -> str:
        """Exit 2 and stderr is exactly one line, "error: ..." naming every needle; no traceback."""
        assert result.code == 2, f"exit {result.code}; stderr: {result.err}"
        assert len(result.err_lines) == 1 and result.err_lines[0].startswith("error: "), result.err
        return Cli._has(result.err_lines[0], needles)

    @staticmethod
    def assert_failed_run(result: CliResult, *needles: str) -> str:
        """A run that started then stopped on a fault: exit 2, exactly one "error: " line, no traceback."""
        assert result.code == 2, f"exit {result.code}; stderr: {result.err}"
        assert "Traceback" not in result.err, result.err
        assert result.error_line, f"expected exactly one 'error: ' line in: {result.err}"
        return Cli._has(result.error_line, needles)

    @staticmethod
    def _has(line: str, needles) -> str:
        low = line.lower()
        for needle in needles:
            assert needle.lower() in low, f"{needle!r} not in: {line}"
        return line


@pytest.fixture
def cli(capsys) -> Cli:
    return Cli(capsys)


# Arguments that keep every CLI training run tiny: CPU, the small CNN, no worker processes.
TINY_TRAIN = ("--backbone", "small_cnn", "--device", "cpu", "--set", "data.num_workers=0", "--quiet")


@pytest.fixture
def tiny_train() -> tuple[str, ...]:
    return TINY_TRAIN


@pytest.fixture(autouse=True)
def _one_thread():
    # Several engineers share two cores: keep each test to one intra-op thread.
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.fixture
def as_root() -> bool:
    return running_as_root()


@pytest.fixture(scope="session")
def python_exe() -> str:
    return sys.executable
