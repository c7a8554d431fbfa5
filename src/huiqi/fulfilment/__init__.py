"""Fulfilment rules: who may do what, in which state, and how money is decided and shared.

Plain Python like the engine: no database, no web. The service layer
(:mod:`huiqi.service`) applies these rules inside one transaction per call.
"""
