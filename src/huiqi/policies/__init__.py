"""Bundled policy packages (data folders read by :func:`huiqi.policy.load_package`)."""

from pathlib import Path

BUNDLED = Path(__file__).parent
DEFAULT_POLICY = BUNDLED / "chenzhou_2021_3"
