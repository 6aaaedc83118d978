"""The checks a connector passes when the portal loads it.

A connector is refused (not registered) when its ``connector_info`` fails, when it
claims a capability without implementing that capability's hook
(``hookspecs.CAPABILITY_HOOKS``), or when it requires a contract version the portal
does not fulfil (``hookspecs.CONTRACT_VERSION``: same major, minor at least the
connector's). Messages are French: administrators read them in ``sas-portal
connectors`` and ``/healthz``.
"""

from __future__ import annotations

from typing import Any

import pluggy

import hookspecs
from portal.domain import ConnectorInfo


def contract_problem(required: str | None, current: str = hookspecs.CONTRACT_VERSION) -> str | None:
    """Why a connector requiring contract ``required`` cannot load, or ``None``.

    Same major version and the portal's minor at least the connector's.
    """
    if required is None:
        return None
    have = tuple(int(p) for p in current.split("."))
    try:
        major, minor = (int(p) for p in str(required).strip().split("."))
    except ValueError:
        return f"version de contrat requise illisible ({required!r}, « majeure.mineure » attendu)"
    if major != have[0] or minor > have[1]:
        return (
            f"écrit pour le contrat {major}.{minor}, le portail fournit le contrat {current} "
            "(mettez à jour le portail ou le connecteur)"
        )
    return None


def load_problems(
    pm: pluggy.PluginManager, name: str, value: Any, error: BaseException | None = None
) -> list[str]:
    """Why the plugin ``name`` must not be loaded (French sentences); ``[]`` if it may.

    :param value: what its ``connector_info`` answered: a :class:`ConnectorInfo`
        claiming only capabilities whose hook the plugin implements
        (``hookspecs.CAPABILITY_HOOKS``) and requiring a contract the portal fulfils.
    :param error: what ``connector_info`` raised instead, if it did.
    """
    if error is not None:
        return [f"{name} : connector_info a échoué ({error})"]
    if not isinstance(value, ConnectorInfo):
        return [f"{name} : connector_info doit renvoyer un ConnectorInfo, pas {value!r}"]
    problems: list[str] = []
    contract = contract_problem(value.requires_contract)
    if contract:
        problems.append(f"{name} : {contract}")
    plugin = pm.get_plugin(name)
    implemented = {caller.name for caller in pm.get_hookcallers(plugin) or []}
    for capability in sorted(value.capabilities):
        hook = hookspecs.CAPABILITY_HOOKS.get(capability)
        if hook is None:
            problems.append(f"{name} : capacité inconnue « {capability} »")
        elif hook not in implemented and not (
            hook == "fetch_slots" and "fetch_source_slots" in implemented  # a bulk publisher
        ):
            problems.append(
                f"{name} : déclare la capacité « {capability} » sans implémenter {hook}"
            )
    return problems
