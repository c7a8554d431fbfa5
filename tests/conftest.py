"""Shared fixtures: the bundled policy package, loaded once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from huiqi.policies import DEFAULT_POLICY
from huiqi.policy import PolicyPackage, load_package

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def chenzhou() -> PolicyPackage:
    return load_package(DEFAULT_POLICY)
