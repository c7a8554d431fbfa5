"""The fulfilment workflow from the command line: organisations, users, applications, plans.

The CLI is a server-side tool: ``--as USER`` names whose roles a command uses, and the
service layer checks them exactly as it does for the web. Amounts are given in yuan.
"""

from __future__ import annotations

import typer

from huiqi.cli import application_cmds, people_cmds, plan_cmds


def register(app: typer.Typer) -> None:
    app.add_typer(people_cmds.org_app, name="org")
    app.add_typer(people_cmds.user_app, name="user")
    app.command("apply")(application_cmds.apply)
    app.command("applications")(application_cmds.list_applications)
    app.command("show")(application_cmds.show)
    app.command("replay")(application_cmds.replay)
    app.add_typer(application_cmds.review_app, name="review")
    app.add_typer(plan_cmds.plan_app, name="plan")
    app.add_typer(people_cmds.audit_app, name="audit")
    app.command("demo")(people_cmds.demo)
    app.command("serve")(people_cmds.serve)
