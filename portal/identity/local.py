r"""Transitional face of the former ``local`` module (split into ``passwords``,
``second_factor`` and ``reset_links``): new code imports those modules directly.

Kept only while callers still being edited in parallel import ``local``; delete it
once nothing does (``grep -rn "identity import local\|identity.local"``).
"""

from __future__ import annotations

from portal.identity.passwords import *  # noqa: F403
from portal.identity.reset_links import *  # noqa: F403
from portal.identity.second_factor import *  # noqa: F403
