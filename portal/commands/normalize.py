"""``sas-portal normalize FILE``: an editor's slot Bundle as normalised slots, one JSON line each.

The integrator's view of what the portal will make of a payload: the same
tolerant reader the connectors use, its warnings on stderr.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import get_args

import click

from portal.errors import MalformedResponse, UpstreamRejected
from portal.fhir import Flow, read_bundle

#: The connector that reads each flow, used as ``--source`` by default.
SOURCE_OF_FLOW: dict[Flow, str] = {"ps": "doctolib_like", "cpts": "cpts", "sos": "sos_medecins"}


def _read_input(file: str) -> bytes:
    if file == "-":
        return sys.stdin.buffer.read()
    path = Path(file)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise click.UsageError(f"fichier introuvable : {file}") from None
    except IsADirectoryError:
        raise click.UsageError(f"{file} est un dossier, pas un fichier") from None
    except OSError as exc:
        raise click.UsageError(f"lecture impossible de {file} : {exc.strerror}") from None


@click.command("normalize")
@click.argument("file", metavar="FICHIER")
@click.option(
    "--flow",
    type=click.Choice(get_args(Flow)),
    default=None,
    help="Flux national : ps (INT_R01), cpts (INT_R04), sos. Par défaut : détecté.",
)
@click.option(
    "--source",
    default=None,
    help="Valeur du champ source des créneaux. Par défaut : le connecteur du flux "
    "(doctolib_like, cpts, sos_medecins).",
)
def normalize_command(file: str, flow: Flow | None, source: str | None) -> None:
    """Lit un Bundle FHIR de créneaux (FICHIER, ou - pour l'entrée standard) et
    affiche un créneau normalisé par ligne (JSON), dans l'ordre du Bundle.

    Les avertissements (entrées ignorées et pourquoi) vont sur la sortie d'erreur.
    Code de sortie : 0 pour un Bundle (même vide), 1 si le contenu n'est pas un
    Bundle (JSON invalide, autre ressource, OperationOutcome), 2 si le fichier
    est illisible.
    """
    data = _read_input(file)
    name = "entrée standard" if file == "-" else file
    try:
        result = read_bundle(data, source=source or "", flow=flow)
    except UpstreamRejected as exc:
        raise click.ClickException(f"{name} : {exc} : {exc.diagnostics}") from None
    except MalformedResponse as exc:
        raise click.ClickException(f"{name} : {exc}") from None
    chosen = source or SOURCE_OF_FLOW[result.flow]
    for slot in result.slots:
        # the flow (hence the default source) is only known once the Bundle is read
        line = dataclasses.replace(slot, source=chosen).as_json()
        click.echo(json.dumps(line, ensure_ascii=False))
    for warning in result.warnings:
        click.echo(f"avertissement : {warning}", err=True)
    click.echo(
        f"{len(result.slots)} créneau(x) normalisé(s) sur {result.entries} entrée(s) "
        f"(flux {result.flow}, source {chosen})",
        err=True,
    )
