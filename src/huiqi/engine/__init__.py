"""The policy engine: facts + policy package → explained results per clause."""

from huiqi.engine.evaluate import OutsideValidityError, check_year, clause_sort_key, evaluate
from huiqi.engine.result import ClauseResult, Evaluation, ItemResult

__all__ = [
    "ClauseResult",
    "Evaluation",
    "ItemResult",
    "OutsideValidityError",
    "check_year",
    "clause_sort_key",
    "evaluate",
]
