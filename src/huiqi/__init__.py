"""惠企 huiqi — enterprise-support policy as rules that run.

Layers (dependencies point inward):
    policy  — the policy-package format and its loader (plain data, no I/O beyond files)
    facts   — the versioned input schema of an applicant-year
    engine  — evaluates facts against a policy package and explains every step
    cli     — a thin Typer entrypoint that parses, calls, renders
"""

__version__ = "0.1.0"
