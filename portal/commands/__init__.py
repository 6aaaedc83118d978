"""Command-line commands, attached to ``app.cli`` so that ``sas-portal`` (a Flask CLI
group) lists Flask's commands and ours together."""

from __future__ import annotations

from flask import Flask


def register_commands(app: Flask) -> None:
    from portal.commands.accounts import accounts_cli
    from portal.commands.audit import audit_cli
    from portal.commands.bench import bench_cli
    from portal.commands.bindings import bindings_cli
    from portal.commands.connectors import connectors_command
    from portal.commands.db import db_cli
    from portal.commands.demo import demo_command
    from portal.commands.directory import directory_cli
    from portal.commands.normalize import normalize_command
    from portal.commands.slots import refresh_command, scheduler_command
    from portal.commands.validate import validate_command

    app.cli.add_command(db_cli)
    app.cli.add_command(connectors_command)
    app.cli.add_command(bindings_cli)
    app.cli.add_command(demo_command)
    app.cli.add_command(validate_command)
    app.cli.add_command(refresh_command)
    app.cli.add_command(scheduler_command)
    app.cli.add_command(directory_cli)
    app.cli.add_command(normalize_command)
    app.cli.add_command(bench_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(accounts_cli)
    from portal.commands.lrm import lrm_cli

    app.cli.add_command(lrm_cli)
