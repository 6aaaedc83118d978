"""``python -m connectors.<name>.sandbox``: serve a sandbox until Ctrl-C."""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable, Iterable

from portal.testing.sandbox.server import MODES, Behaviour, SandboxServer


def run_cli(
    factory: Callable[..., SandboxServer], description: str, argv: Iterable[str] | None = None
) -> int:
    """``python -m connectors.<name>.sandbox --port 8101``: serve until Ctrl-C."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, default=0, help="port (0 : port libre)")
    parser.add_argument("--seed", type=int, default=0, help="graine des agendas")
    parser.add_argument("--mode", choices=MODES, default="ok", help="comportement simulé")
    parser.add_argument("--latency", type=float, default=0.0, help="latence ajoutée (s)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    server = factory(
        seed=args.seed, port=args.port, behaviour=Behaviour(mode=args.mode, latency_s=args.latency)
    )
    server.start()
    print(f"{description} : {server.url}  (contrôle : {server.base_url}/_sandbox/behaviour)")
    print("Ctrl-C pour arrêter.", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0
