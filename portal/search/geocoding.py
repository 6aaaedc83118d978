"""Street-level geocoding through the national address API (Base Adresse Nationale).

Optional: :func:`make_geocoder` returns None when ``GEOCODER_URL`` is not configured,
and the geocoder it returns answers None on any problem (timeout, HTTP error, garbage,
a match too vague), so the search always falls back to the commune centre. The text
geocoded is a patient's address: it is never logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Final

import httpx

from portal.reference import geo
from portal.search.service import Place

__all__ = ["ACCEPTED_TYPES", "MIN_SCORE", "Geocoder", "make_geocoder", "place_from_geojson"]

logger = logging.getLogger(__name__)

Geocoder = Callable[[str], Place | None]

DEFAULT_TIMEOUT_S: Final = 1.5
#: BAN result types precise enough to beat the commune centre
ACCEPTED_TYPES: Final = frozenset({"housenumber", "street"})
#: BAN relevance score below which a match is a guess, not an address
MIN_SCORE: Final = 0.5
_MAX_QUERY = 200  # the BAN refuses longer queries


def make_geocoder(config: Mapping[str, Any]) -> Geocoder | None:
    """A ``geocode(text) -> Place | None`` calling ``GEOCODER_URL``, or None when not configured.

    Each call is ``GET <url>?q=<text>&limit=1`` with a ``GEOCODER_TIMEOUT_S`` timeout
    (default 1.5 s). Only a house number or street with a score of at least
    :data:`MIN_SCORE` is returned (``precision="adresse"``); anything else gives None.
    """
    url = str(config.get("GEOCODER_URL") or "").strip()
    if not url:
        return None
    timeout = float(config.get("GEOCODER_TIMEOUT_S") or DEFAULT_TIMEOUT_S)

    def geocode(text: str) -> Place | None:
        query = " ".join(text.split())[:_MAX_QUERY]
        if len(query) < 3:
            return None
        try:
            response = httpx.get(url, params={"q": query, "limit": 1}, timeout=timeout)
            response.raise_for_status()
            return place_from_geojson(response.json())
        except (httpx.HTTPError, ValueError) as exc:  # ValueError: a body that is not JSON
            # the type only: the query is a patient's address
            logger.warning(
                "géocodeur indisponible, centre de la commune utilisé (%s)", type(exc).__name__
            )
            return None

    return geocode


def place_from_geojson(data: Any) -> Place | None:
    """The first feature of a BAN ``FeatureCollection`` as a :class:`Place`, if good enough."""
    try:
        feature = data["features"][0]
        properties = feature["properties"]
        lon, lat = (float(v) for v in feature["geometry"]["coordinates"][:2])
        kind, score = properties.get("type"), float(properties.get("score", 0))
        label = str(properties["label"])
    except (KeyError, IndexError, TypeError, ValueError):
        logger.warning("réponse du géocodeur illisible, centre de la commune utilisé")
        return None
    if kind not in ACCEPTED_TYPES or score < MIN_SCORE:
        return None
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return None
    citycode = str(properties.get("citycode") or "").strip().upper() or None
    commune = geo.get_index().by_insee(citycode) if citycode else None
    return Place(
        label=label,
        lat=lat,
        lon=lon,
        insee=citycode,
        department=commune.department if commune else None,
        precision="adresse",
    )
