"""The versioned input schema of one applicant-year (see :mod:`huiqi.facts.model`)."""

from huiqi.facts.load import facts_json_schema, load_facts, parse_facts
from huiqi.facts.model import FACTS_VERSION, Facts

__all__ = ["FACTS_VERSION", "Facts", "facts_json_schema", "load_facts", "parse_facts"]
