"""The ``huiqi`` command line: each command parses, calls one function, renders.

Commands of the engine live in :mod:`huiqi.cli.engine_cmds`; the database and the
fulfilment workflow in :mod:`huiqi.cli.db_cmds` and :mod:`huiqi.cli.flow_cmds`.
"""

from __future__ import annotations

import os
import sys

import typer

from huiqi.cli import db_cmds, engine_cmds, flow_cmds, import_cmds, simulate_cmds

app = typer.Typer(
    name="huiqi",
    help="惠企 huiqi：把惠企政策变成可运行、可解释的规则。 Policy as rules that run.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for command in (
    engine_cmds.evaluate,
    engine_cmds.explain,
    engine_cmds.clauses,
    engine_cmds.schema,
    engine_cmds.check,
    simulate_cmds.synth,
    simulate_cmds.simulate,
):
    app.command()(command)
app.add_typer(db_cmds.app, name="db")
flow_cmds.register(app)
import_cmds.register(app)


def main() -> None:
    """Entry point: run the app; an unexpected error is one line, not a traceback."""
    try:
        app()
    except Exception as exc:
        if os.environ.get("HUIQI_DEBUG"):
            raise
        sys.stderr.write(
            f"内部错误 / internal error: {type(exc).__name__}: {exc}\n"
            "（设置 HUIQI_DEBUG=1 查看详情 / set HUIQI_DEBUG=1 for details）\n"
        )
        sys.exit(1)
