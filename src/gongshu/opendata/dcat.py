"""DCAT-AP 3 for the open catalogue: the catalogue and each dataset as JSON-LD or Turtle.

The EU vocabularies (frequency, access right, data theme) are the catalog's own mappings
(``gongshu.catalog.transfer``); this module adds what the resource catalog does not have:
open datasets with their distributions, licence and contact point, and Turtle output.

``GET /api/v1/open/dcat/catalog?format=jsonld|ttl`` and
``GET /api/v1/open/dcat/datasets/{dataset_id}?format=jsonld|ttl`` (or ``Accept:
text/turtle`` / ``application/ld+json``). Built with rdflib.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, XSD
from sqlalchemy import select
from sqlalchemy.orm import Session

from gongshu.catalog.transfer import ACCESS_RIGHTS, EU, EU_THEMES, FREQUENCY
from gongshu.opendata import service
from gongshu.opendata.models import OpenDataset
from gongshu.orgs.models import Org
from gongshu.web.deps import DbSession

router = APIRouter(prefix="/api/v1/open/dcat", tags=["DCAT-AP"])
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
FREQ = Namespace("http://publications.europa.eu/resource/authority/frequency/")
FILETYPE = Namespace("http://publications.europa.eu/resource/authority/file-type/")
DCATAP = Namespace("http://data.europa.eu/r5r/")
DISTRIBUTIONS = (
    ("csv", "CSV", "text/csv"),
    ("json", "JSON", "application/json"),
    ("xlsx", "XLSX", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("parquet", "PARQUET", "application/vnd.apache.parquet"),
)
LICENCE_URIS = {
    "CC-BY-4.0": "https://creativecommons.org/licenses/by/4.0/",
    "CC0-1.0": "https://creativecommons.org/publicdomain/zero/1.0/",
    "ODC-BY-1.0": "https://opendatacommons.org/licenses/by/1-0/",
}


def _graph() -> Graph:
    g = Graph()
    for prefix, ns in (
        ("dcat", DCAT),
        ("dct", DCTERMS),
        ("foaf", FOAF),
        ("vcard", VCARD),
        ("dcatap", DCATAP),
    ):
        g.bind(prefix, ns)
    return g


def add_dataset(g: Graph, ds: OpenDataset, org: Org | None, base: str) -> URIRef:
    uri = URIRef(f"{base}/open/datasets/{ds.id}")
    zh = "zh"
    g.add((uri, RDF.type, DCAT.Dataset))
    g.add((uri, DCTERMS.identifier, Literal(ds.name)))
    g.add((uri, DCTERMS.title, Literal(ds.title, lang=zh)))
    g.add((uri, DCTERMS.description, Literal(ds.description or ds.title, lang=zh)))
    g.add((uri, DCAT.landingPage, URIRef(f"{base}/open/datasets/{ds.id}")))
    for tag in ds.tags or []:
        g.add((uri, DCAT.keyword, Literal(tag, lang=zh)))
    g.add((uri, DCAT.theme, URIRef(f"{base}/open/search?domain={ds.domain}")))
    if ds.published_at:
        g.add(
            (
                uri,
                DCTERMS.issued,
                Literal(ds.published_at.replace(microsecond=0), datatype=XSD.dateTime),
            )
        )
    g.add(
        (
            uri,
            DCTERMS.modified,
            Literal(ds.updated_at.replace(microsecond=0), datatype=XSD.dateTime),
        )
    )
    if ds.domain in EU_THEMES:  # the catalog's mapping to the EU data-theme vocabulary
        g.add((uri, DCAT.theme, URIRef(f"{EU}data-theme/{EU_THEMES[ds.domain]}")))
    if ds.update_cycle in FREQUENCY:
        g.add((uri, DCTERMS.accrualPeriodicity, FREQ[FREQUENCY[ds.update_cycle]]))
    if org is not None:
        agent = URIRef(f"{base}/open/orgs/{org.id}")
        g.add((uri, DCTERMS.publisher, agent))
        g.add((agent, RDF.type, FOAF.Agent))
        g.add((agent, FOAF.name, Literal(org.name, lang=zh)))
    if ds.contact:
        contact = BNode()
        g.add((uri, DCAT.contactPoint, contact))
        g.add((contact, RDF.type, VCARD.Kind))
        g.add((contact, VCARD.fn, Literal(ds.contact, lang=zh)))
    licence = URIRef(LICENCE_URIS.get(ds.licence, f"{base}/open/licence/{ds.licence}"))
    right = ACCESS_RIGHTS.get(ds.open_type, "RESTRICTED")
    g.add((uri, DCTERMS.accessRights, URIRef(f"{EU}access-right/{right}")))
    for fmt, code, media in DISTRIBUTIONS:
        dist = URIRef(f"{base}/open/datasets/{ds.id}#{fmt}")
        url = URIRef(f"{base}/api/v1/open/datasets/{ds.id}/download?format={fmt}")
        g.add((uri, DCAT.distribution, dist))
        g.add((dist, RDF.type, DCAT.Distribution))
        g.add((dist, DCTERMS.title, Literal(f"{ds.title}（{code}）", lang=zh)))
        g.add((dist, DCAT.accessURL, url))
        g.add((dist, DCAT.downloadURL, url))
        g.add((dist, DCTERMS.format, FILETYPE[code]))
        g.add(
            (dist, DCAT.mediaType, URIRef(f"http://www.iana.org/assignments/media-types/{media}"))
        )
        g.add((dist, DCTERMS.license, licence))
    return uri


def catalog_graph(session: Session, base: str, datasets: list[OpenDataset] | None = None) -> Graph:
    g = _graph()
    cat = URIRef(f"{base}/open")
    g.add((cat, RDF.type, DCAT.Catalog))
    g.add((cat, DCTERMS.title, Literal("示例市公共数据开放目录", lang="zh")))
    g.add((cat, DCTERMS.description, Literal("示例市公共数据开放门户发布的开放数据集", lang="zh")))
    g.add((cat, FOAF.homepage, URIRef(f"{base}/open")))
    publisher = URIRef(f"{base}/open#publisher")
    g.add((cat, DCTERMS.publisher, publisher))
    g.add((publisher, RDF.type, FOAF.Agent))
    g.add((publisher, FOAF.name, Literal("示例市数据局", lang="zh")))
    if datasets is None:
        datasets = list(
            session.scalars(
                select(OpenDataset)
                .where(OpenDataset.status == "published")
                .order_by(OpenDataset.id)
            )
        )
    orgs = {o.id: o for o in session.scalars(select(Org))}
    for ds in datasets:
        g.add((cat, DCAT.dataset, add_dataset(g, ds, orgs.get(ds.org_id), base)))
    return g


def _respond(g: Graph, fmt: str | None, request: Request) -> Response:
    accept = request.headers.get("accept", "")
    if fmt is None:
        fmt = "ttl" if "turtle" in accept else "jsonld"
    if fmt == "ttl":
        return Response(g.serialize(format="turtle"), media_type="text/turtle; charset=utf-8")
    context: dict[str, Any] = {
        "dcat": str(DCAT),
        "dct": str(DCTERMS),
        "foaf": str(FOAF),
        "vcard": str(VCARD),
    }
    body = g.serialize(format="json-ld", context=context, auto_compact=True)
    return Response(body, media_type="application/ld+json")


Fmt = Annotated[str | None, Query(pattern="^(jsonld|ttl)$", description="jsonld 或 ttl")]


@router.get("/catalog", summary="DCAT-AP 3 开放目录（JSON-LD / Turtle）")
def dcat_catalog(request: Request, session: DbSession, format: Fmt = None) -> Response:
    return _respond(catalog_graph(session, str(request.base_url).rstrip("/")), format, request)


@router.get("/datasets/{dataset_id}", summary="DCAT-AP 3 数据集（JSON-LD / Turtle）")
def dcat_dataset(
    dataset_id: int, request: Request, session: DbSession, format: Fmt = None
) -> Response:
    ds = service.published_dataset(session, dataset_id)
    g = _graph()
    add_dataset(g, ds, session.get(Org, ds.org_id), str(request.base_url).rstrip("/"))
    return _respond(g, format, request)
