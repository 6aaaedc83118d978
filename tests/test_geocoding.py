"""Street-level geocoding against a real HTTP server on loopback speaking the BAN format."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from portal.search.geocoding import make_geocoder, place_from_geojson


def ban(kind: str = "housenumber", score: float = 0.93, citycode: str = "47001") -> dict[str, Any]:
    """A BAN ``/search/`` answer with one feature, as api-adresse.data.gouv.fr sends it."""
    return {
        "type": "FeatureCollection",
        "version": "draft",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [0.6186, 44.2049]},
                "properties": {
                    "label": "12 Rue Fictive 47000 Agen",
                    "score": score,
                    "housenumber": "12",
                    "id": "47001_1234_00012",
                    "type": kind,
                    "name": "12 Rue Fictive",
                    "postcode": "47000",
                    "citycode": citycode,
                    "city": "Agen",
                    "context": "47, Lot-et-Garonne, Nouvelle-Aquitaine",
                },
            }
        ],
        "attribution": "BAN",
        "licence": "ETALAB-2.0",
        "query": "12 rue fictive agen",
        "limit": 1,
    }


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class FakeBan:
    """``mode`` decides the answer: ok, low, municipality, slow, garbage, error, empty."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.queries: list[dict[str, str]] = []
        self.release = threading.Event()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        self.queries.append(dict(request.args))
        if self.mode == "slow":
            self.release.wait(5)
        body: Any = {
            "ok": ban(),
            "slow": ban(),
            "low": ban(score=0.31),
            "municipality": ban(kind="municipality"),
            "empty": {"type": "FeatureCollection", "features": []},
            "nonsense": {"features": [{"geometry": None}]},
        }.get(self.mode)
        if self.mode == "garbage":
            response = Response("<html>maintenance</html>", content_type="application/json")
        elif self.mode == "error":
            response = Response(json.dumps({"message": "boom"}), status=503)
        else:
            response = Response(json.dumps(body), content_type="application/json")
        return response(environ, start_response)


@pytest.fixture
def fake_ban() -> Iterator[tuple[FakeBan, str]]:
    app = FakeBan()
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_Quiet)
    server.daemon_threads = True  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{server.server_port}/search/"
    finally:
        app.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_no_url_no_geocoder() -> None:
    assert make_geocoder({}) is None
    assert make_geocoder({"GEOCODER_URL": "  "}) is None


def test_address_is_geocoded(fake_ban: tuple[FakeBan, str]) -> None:
    server, url = fake_ban
    geocode = make_geocoder({"GEOCODER_URL": url, "GEOCODER_TIMEOUT_S": 2})
    assert geocode is not None
    place = geocode("12  rue Fictive 47000 Agen")
    assert place is not None
    assert (place.lat, place.lon) == (44.2049, 0.6186)  # GeoJSON is [lon, lat]
    assert place.label == "12 Rue Fictive 47000 Agen"
    assert place.insee == "47001" and place.department == "47"
    assert place.precision == "adresse"
    assert server.queries == [{"q": "12 rue Fictive 47000 Agen", "limit": "1"}]


@pytest.mark.parametrize("mode", ["low", "municipality", "empty", "nonsense", "garbage", "error"])
def test_vague_or_broken_answers_give_none(fake_ban: tuple[FakeBan, str], mode: str) -> None:
    server, url = fake_ban
    server.mode = mode
    geocode = make_geocoder({"GEOCODER_URL": url})
    assert geocode is not None
    assert geocode("12 rue Fictive Agen") is None
    assert len(server.queries) == 1


def test_a_slow_geocoder_times_out(fake_ban: tuple[FakeBan, str]) -> None:
    import time

    server, url = fake_ban
    server.mode = "slow"
    geocode = make_geocoder({"GEOCODER_URL": url, "GEOCODER_TIMEOUT_S": 0.2})
    assert geocode is not None
    started = time.monotonic()
    assert geocode("12 rue Fictive Agen") is None
    assert time.monotonic() - started < 1.5


def test_nobody_listening_gives_none() -> None:
    geocode = make_geocoder(
        {"GEOCODER_URL": "http://127.0.0.1:9/search/", "GEOCODER_TIMEOUT_S": 0.5}
    )
    assert geocode is not None and geocode("12 rue Fictive Agen") is None


def test_too_short_text_is_not_sent(fake_ban: tuple[FakeBan, str]) -> None:
    server, url = fake_ban
    geocode = make_geocoder({"GEOCODER_URL": url})
    assert geocode is not None and geocode(" a ") is None
    assert server.queries == []  # not worth a call


def test_street_result_and_unknown_citycode() -> None:
    place = place_from_geojson(ban(kind="street", score=0.5, citycode="99999"))
    assert place is not None and place.insee == "99999" and place.department is None
    assert place_from_geojson(ban(score=0.49)) is None
    assert place_from_geojson("not a dict") is None


def test_config_defaults() -> None:
    from portal.config import DEFAULTS

    assert DEFAULTS["GEOCODER_URL"] == "" and DEFAULTS["GEOCODER_TIMEOUT_S"] == 1.5
