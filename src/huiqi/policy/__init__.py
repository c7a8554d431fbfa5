"""The policy-package format: clauses, conditions, tiers, amounts, caps and dated parameters.

A policy package is a folder of YAML files that a commerce-bureau reviewer can
read: ``policy.yaml`` (identity, validity, scope, switches), ``clauses/*.yaml``
(one clause each: its quoted text, its rule and its numbers), ``parameters/*.yaml``
(dated series such as the LPR) and ``tests/*.yaml`` (cases in the policy's terms).
Nothing here knows Chenzhou: :func:`load_package` reads any such folder.
"""

from huiqi.policy.loader import PackageError, load_package
from huiqi.policy.model import AmountKind, Clause, PolicyPackage, Word

__all__ = ["AmountKind", "Clause", "PackageError", "PolicyPackage", "Word", "load_package"]
