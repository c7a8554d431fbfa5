"""Policy simulation at scale: a whole population, every clause, in columnar form.

The same policy package the single-case engine reads is compiled, per award year, into
Polars expressions (:mod:`~huiqi.simulate.compile`, :mod:`~huiqi.simulate.clauses`) and
evaluated over tables of applicant-years (:mod:`~huiqi.simulate.population`,
:mod:`~huiqi.simulate.files`) with the award ledger (:mod:`~huiqi.simulate.ledger`).
Money is integer fen throughout; a differential test holds it to the single-case
engine's eligibility and fen for every clause. Reforms (:mod:`~huiqi.simulate.reform`)
change parameters and switches from a date; :mod:`~huiqi.simulate.compare` sets a reform
against the baseline; :mod:`~huiqi.simulate.synth` makes a realistic population.
"""
