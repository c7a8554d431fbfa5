"""races: one payment per pre-approval, one open claim, budget rows locked (filled by the race work)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 15:40:00
"""

from __future__ import annotations

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
