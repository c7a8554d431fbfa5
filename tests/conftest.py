"""Shared fixtures: the bundled policy package, loaded once per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import Phase, settings

from huiqi.policies import DEFAULT_POLICY
from huiqi.policy import PolicyPackage, load_package

FIXTURES = Path(__file__).parent / "fixtures"

#: ``--hypothesis-profile=mutation`` (bench/mutate.py): a failure is reported as found, not
#: shrunk — a mutation needs to know which tests fail, not the smallest example.
settings.register_profile("mutation", phases=[Phase.explicit, Phase.reuse, Phase.generate])


@pytest.fixture(scope="session")
def chenzhou() -> PolicyPackage:
    return load_package(DEFAULT_POLICY)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI a skipped test is a failure: nothing may pass by being left out."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if os.environ.get("CI") and skipped:
        print(f"\nCI: {skipped} test(s) skipped — failing, since CI runs everything.")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
