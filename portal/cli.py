"""The ``sas-portal`` console script: Flask's CLI group with our commands."""

from __future__ import annotations

from flask.cli import FlaskGroup

from portal.app import create_app

main = FlaskGroup(
    name="sas-portal",
    create_app=lambda: create_app(),
    help="Portail SAS : commandes d'exploitation (voir --help de chaque commande).",
)
