"""The service layer: commands and queries, one transaction each, permissions checked once here.

The CLI, the HTTP API and the pages call these functions and nothing below them.
"""
