"""CKAN Action API compatibility (driven by the real ``ckanapi`` client over HTTP) and
DCAT-AP 3 output (parsed back as JSON-LD and Turtle)."""

from __future__ import annotations

import warnings
from typing import Any

import httpx
import pytest
from ckanapi import NotAuthorized, NotFound, RemoteCKAN, ValidationError
from rdflib import Graph
from rdflib.namespace import DCAT, DCTERMS, RDF

from tests.opendata.conftest import OpenServer

pytestmark = pytest.mark.controlplane


@pytest.fixture(scope="module")
def ckan(open_server: OpenServer) -> Any:
    return RemoteCKAN(open_server.url, user_agent="gongshu-test")


def test_ckanapi_package_search_show_and_datastore(ckan: Any) -> None:
    found = ckan.action.package_search(
        q="公交", rows=5, **{"facet.field": '["organization","groups","tags"]'}
    )
    assert found["count"] == 1
    pkg = found["results"][0]
    assert pkg["title"] == "公交线路" and pkg["organization"]["name"] == "jtj"
    assert found["search_facets"]["groups"]["items"][0]["name"] == "transport"
    assert found["facets"]["tags"]["公交"] == 1

    shown = ckan.action.package_show(id=pkg["name"])
    assert shown["name"] == pkg["name"] and shown["num_resources"] == 4
    csv = next(r for r in shown["resources"] if r["format"] == "CSV")
    assert csv["datastore_active"] is True

    page = ckan.action.datastore_search(
        resource_id=csv["id"],
        limit=3,
        offset=2,
        sort="line_id desc",
        filters={"fare": 2.0},
        fields=["line_id", "fare"],
    )
    assert [f["id"] for f in page["fields"]] == ["_id", "line_id", "fare"]
    assert len(page["records"]) == 3 and all(r["fare"] == 2.0 for r in page["records"])
    ids = [r["line_id"] for r in page["records"]]
    assert ids == sorted(ids, reverse=True)
    assert page["total"] > 3 and page["_links"]["next"].endswith("offset=5")
    # q: full text over text columns
    hit = ckan.action.datastore_search(resource_id=pkg["name"], q="499路")
    assert [r["line_id"] for r in hit["records"]] == [499]
    # Restricted data: the anonymous client is refused with CKAN's Authorization Error.
    with pytest.raises(NotAuthorized):
        ckan.action.datastore_search(resource_id="jc-jtj-000002-csv")
    with pytest.raises(NotFound):
        ckan.action.package_show(id="no-such-dataset")
    with pytest.raises(ValidationError):
        ckan.action.datastore_search(resource_id=pkg["name"], filters={"nope": 1})
    assert set(ckan.action.package_list()) == {pkg["name"], "jc-jtj-000002"}
    assert ckan.action.organization_list() == ["jtj"]
    org = ckan.action.organization_show(id="jtj", include_datasets=True)
    assert org["package_count"] == 2 and len(org["packages"]) == 2
    assert ckan.action.group_list() == ["transport"]
    assert ckan.action.resource_show(id=csv["id"])["url"].endswith("format=csv")


def test_ckan_envelope_get_and_errors(open_server: OpenServer) -> None:
    base = open_server.url
    ok = httpx.get(f"{base}/api/3/action/package_search", params={"fq": "tags:出租车"}).json()
    assert ok["success"] is True and ok["help"].endswith("help_show?name=package_search")
    assert ok["result"]["count"] == 1
    fq = httpx.get(
        f"{base}/api/3/action/package_search",
        params={"fq": "organization:jtj +res_format:CSV", "sort": "title_string asc", "rows": 1},
    ).json()["result"]
    assert fq["count"] == 2 and len(fq["results"]) == 1
    bad = httpx.get(f"{base}/api/3/action/package_search", params={"sort": "nonsense"})
    assert bad.status_code == 400
    body = bad.json()
    assert body["success"] is False and body["error"]["__type"] == "Search Query Error"
    missing = httpx.get(f"{base}/api/3/action/package_show")
    assert missing.status_code == 409 and missing.json()["error"]["__type"] == "Validation Error"
    nf = httpx.get(f"{base}/api/action/package_show", params={"id": "nope"})
    assert nf.status_code == 404 and nf.json()["error"]["__type"] == "Not Found Error"
    rows = httpx.get(f"{base}/api/3/action/package_search", params={"rows": "x"})
    assert rows.status_code == 409


def test_dcat_parses_as_json_ld_and_turtle(open_server: OpenServer) -> None:
    base = open_server.url
    for fmt, parser in (("jsonld", "json-ld"), ("ttl", "turtle")):
        resp = httpx.get(f"{base}/api/v1/open/dcat/catalog", params={"format": fmt})
        assert resp.status_code == 200
        g = Graph().parse(data=resp.text, format=parser)
        catalogs = list(g.subjects(RDF.type, DCAT.Catalog))
        assert len(catalogs) == 1
        datasets = list(g.objects(catalogs[0], DCAT.dataset))
        assert len(datasets) == 2
        titles = {str(t) for d in datasets for t in g.objects(d, DCTERMS.title)}
        assert "公交线路" in titles
        dists = list(g.objects(datasets[0], DCAT.distribution))
        assert len(dists) == 4 and all(g.value(d, DCAT.downloadURL) for d in dists)
    one = httpx.get(f"{base}/api/v1/open/dcat/datasets/1", headers={"Accept": "text/turtle"})
    g = Graph().parse(data=one.text, format="turtle")
    assert len(list(g.subjects(RDF.type, DCAT.Dataset))) == 1


def test_action_routes_are_matched_first_and_documented_once(client: Any, app: Any) -> None:
    """The app's lifespan puts the CKAN actions ahead of every other route; OpenAPI lists
    each action once per method, with unique operation ids (no duplicate warnings)."""
    from gongshu.opendata.ckan import ActionRoute

    assert isinstance(app.router.routes[0], ActionRoute) or isinstance(
        app.router.routes[1], ActionRoute
    )
    ok = client.get("/api/3/action/status_show")
    assert ok.status_code == 200 and ok.json()["result"]["ckan_version"]
    posted = client.post("/api/action/package_search", json={"rows": 0})
    assert posted.status_code == 200 and posted.json()["result"]["count"] == 0
    assert client.get("/api/3/action/no_such_action").status_code == 404
    assert client.put("/api/3/action/status_show").status_code == 405
    metrics = client.get("/metrics").text
    assert 'route="/api/3/action/status_show"' in metrics
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # FastAPI warns on a duplicate operation id
        schema = app.openapi()
    ops = [op for path in schema["paths"].values() for op in path.values()]
    ids = [op["operationId"] for op in ops]
    assert len(ids) == len(set(ids))
    assert {"ckan_datastore_search_get", "ckan_datastore_search_post"} <= set(ids)
    assert not any(p.startswith("/api/action/") for p in schema["paths"])
