"""OGC API - Features Part 1 over the published closures: landing page, conformance, collections, items."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from urllib.parse import urlencode

from flask import Response, current_app, request
from marshmallow import RAISE, ValidationError, fields, post_load, validate

from ..answers import Answer, lifetime, make_answer
from ..auth import ANONYMOUS
from ..domain.crs import NAMES, URIS, WGS84
from ..feeds import dumps, encode, in_effect
from ..feeds.ogc import extent, utc
from ..index import Entry, Snapshot
from ..pages import feature_bytes, features, public, select
from .answering import respond
from .http import services
from .problems import Problem
from .queries import ApiBlueprint, BBox, Cursor, Instant, QuerySchema, check_interval_length, crs_field, make_cursor
from .urls import public_request_url, public_url_for

blp = ApiBlueprint("ogc", __name__, url_prefix="/ogc", description="OGC API - Features (Part 1: Core)")

COLLECTION = "closures"
JSON, GEOJSON = "application/json", "application/geo+json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
CONFORMANCE = [f"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/{c}" for c in ("core", "geojson", "oas30")]
DEFAULT_LIMIT, MAX_LIMIT = 10, 1000
_BY_URI = {uri: name for name, uri in URIS.items()}
_INSTANT = Instant()


# ---------------------------------------------------------------------- query parameters

class Crs(fields.String):
    """A name crs_field() takes (wgs84, gcj02), or its URI as OGC API clients send it; loads as the name."""

    def __init__(self):
        names = [*NAMES, *URIS.values()]
        super().__init__(load_default=WGS84, validate=validate.OneOf(names), metadata={
            "description": crs_field().metadata["description"] + ", or their URIs"})

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        return _BY_URI.get(text, text)


class OgcBBox(BBox):
    """Four numbers, or six with heights (which closures on the ground ignore)."""

    def _deserialize(self, value, attr, data, **kwargs):
        pieces = value.split(",") if isinstance(value, str) else []
        if len(pieces) == 6:
            value = ",".join(pieces[:2] + pieces[3:5])
        return super()._deserialize(value, attr, data, **kwargs)


class Interval(fields.Field):
    """An RFC 3339 instant, or an interval `start/end` where `..` or nothing leaves an end open.

    A closed interval may span at most MAX_INTERVAL_DAYS (a setting); an open end is always allowed, as
    "in effect at some moment of" an open interval is answered without walking it.
    """

    def _deserialize(self, value, attr, data, **kwargs):
        text = value.strip() if isinstance(value, str) else ""
        parts = text.split("/")
        if len(parts) > 2 or text in ("", ".."):
            raise ValidationError("must be an RFC 3339 date-time or an interval start/end (.. for an open end)")
        if len(parts) == 1:
            instant = self._bound(parts[0])
            return instant, instant
        start, end = (None if p.strip() in ("", "..") else self._bound(p.strip()) for p in parts)
        if start is not None and end is not None:
            if start > end:
                raise ValidationError("the interval's start is after its end")
            check_interval_length(end - start, services().settings, ", or leave an end open with ..")
        return start, end

    @staticmethod
    def _bound(text: str) -> datetime:
        return _INSTANT.deserialize(text)


class FormatQuerySchema(QuerySchema):
    """`f` is sent by many OGC API clients; only JSON encodings are offered."""

    f = fields.String(validate=validate.OneOf(("json", "geojson")),
                      metadata={"description": "encoding: json or geojson (there is no HTML)"})


class ItemQuerySchema(FormatQuerySchema):
    crs = Crs()


class ItemsQuerySchema(ItemQuerySchema):
    bbox = OgcBBox(metadata={"description": "minLon,minLat,maxLon,maxLat (in `crs`): closures meeting the box",
                             "example": "101.78,36.60,101.81,36.62"})
    when = Interval(data_key="datetime", metadata={
        "description": "closures in effect at this instant, or at some moment of the interval start/end "
                       "(`..` or nothing for an open end), e.g. 2024-05-01T00:00:00Z/..", "type": "string"})
    # No `maximum` in the schema: OGC API - Features reads a larger limit as the maximum, not as an error.
    limit = fields.Integer(load_default=DEFAULT_LIMIT, validate=validate.Range(min=1), metadata={
        "description": f"features per page, at most {MAX_LIMIT} (larger values are read as {MAX_LIMIT})"})
    cursor = Cursor(metadata={"description": "where the page starts; use the `next` link", "type": "string"})

    @post_load
    def _cap(self, data, **kwargs):
        # OGC API - Features: a limit above the maximum is no error; the maximum applies.
        data["limit"] = min(data["limit"], MAX_LIMIT)
        return data


# ---------------------------------------------------------------------- resources

def _answers(*media_types: str):
    """Document a 200 answer in these media types (features are labelled plain JSON on `f=json`)."""
    content = {t: {"schema": {"type": "object"}} for t in media_types}
    return blp.doc(responses={"200": {"description": "OK", "content": content}})


@blp.route("/", methods=["GET"])
@_answers(JSON)
@blp.arguments(FormatQuerySchema(), location="query", as_kwargs=True, unknown=RAISE)
def landing(**query):
    """Landing page: links to the API definition, the conformance classes and the collections."""
    links = [_link(public_url_for("ogc.landing"), "self", JSON, "this document"),
             _link(public_url_for("api-docs.openapi_json"), "service-desc", OPENAPI, "API definition"),
             _link(public_url_for("api-docs.openapi_swagger_ui"), "service-doc", "text/html",
                   "API documentation"),
             _link(public_url_for("ogc.conformance"), "conformance", JSON, "conformance classes"),
             _link(public_url_for("ogc.collections"), "data", JSON, "collections")]
    return _fixed({"title": "Roadworks", "description": "Road-construction closures as OGC API - Features",
                   "links": links}, query)


@blp.route("/conformance", methods=["GET"])
@_answers(JSON)
@blp.arguments(FormatQuerySchema(), location="query", as_kwargs=True, unknown=RAISE)
def conformance(**query):
    """The conformance classes implemented: Core, GeoJSON and OpenAPI 3.0."""
    return _fixed({"conformsTo": CONFORMANCE}, query)


@blp.route("/collections", methods=["GET"])
@_answers(JSON)
@blp.arguments(FormatQuerySchema(), location="query", as_kwargs=True, unknown=RAISE)
def collections(**query):
    """The one collection: every published closure."""
    here = _link(public_url_for("ogc.collections"), "self", JSON, "this document")
    return _the_collection(query, lambda found: {"links": [here], "collections": [found]})


@blp.route("/collections/<collectionId>", methods=["GET"])
@_answers(JSON)
@blp.arguments(FormatQuerySchema(), location="query", as_kwargs=True, unknown=RAISE)
def collection(collectionId, **query):
    """The closures collection: its extent in space and time, and where its items are."""
    _check_collection(collectionId)
    return _the_collection(query, lambda found: found)


@blp.route("/collections/<collectionId>/items", methods=["GET"])
@_answers(GEOJSON, JSON)
@blp.arguments(ItemsQuerySchema(), location="query", as_kwargs=True, unknown=RAISE)
def items(collectionId, **query):
    """Published closures as a GeoJSON FeatureCollection, by area and time in effect, a page at a time."""
    _check_collection(collectionId)
    memo = current_app.extensions["roadworks"].fragments
    links = partial(_items_links, request.args.to_dict())

    def build(snapshot: Snapshot, who, at: datetime) -> Answer:
        candidates = _filtered(snapshot, query)
        matched = public(candidates, at)
        after = query.get("cursor")
        remaining = [e for e in matched if after is None or e.id > after]
        page = remaining[:query["limit"]]
        # The page changes with its closures' statuses, and the whole answer when a draft among the matches
        # goes public (which max-age may not tell: HTTP caches turn over each whole minute instead).
        life = lifetime(snapshot, candidates, ANONYMOUS, at)
        members = {"type": "FeatureCollection", "features": features(page, at, query["crs"], memo),
                   "numberMatched": len(matched), "numberReturned": len(page)}
        if life.changed_at is not None:
            # The last public write, publication or status change among the matches: it keeps the ETag
            # while nothing moves, and never moves with a hidden draft.
            members["timeStamp"] = utc(life.changed_at)
        members["links"] = links(page[-1].id if len(remaining) > len(page) else None)
        return make_answer(encode(members), _geojson_type(query), life, headers=_crs_header(query["crs"]))
    return respond(build, query)


@blp.route("/collections/<collectionId>/items/<featureId>", methods=["GET"])
@_answers(GEOJSON, JSON)
@blp.arguments(ItemQuerySchema(), location="query", as_kwargs=True, unknown=RAISE)
def item(collectionId, featureId, **query):
    """One published closure as a GeoJSON Feature."""
    _check_collection(collectionId)
    memo = current_app.extensions["roadworks"].fragments
    links = [_link(public_request_url(), "self", GEOJSON, "this closure"),
             _link(public_url_for("ogc.collection", collectionId=COLLECTION), "collection", JSON, "the collection")]

    def build(snapshot: Snapshot, who, at: datetime) -> Answer:
        entry = snapshot.get(featureId)
        if entry is None or not entry.visible(ANONYMOUS, at):
            raise Problem(404, f"no published closure {featureId!r} in collection {COLLECTION}")
        body = feature_bytes(entry, at, query["crs"], memo)[:-1] + b',"links":' + dumps(links) + b"}"
        return make_answer(body, _geojson_type(query), lifetime(snapshot, [entry], ANONYMOUS, at),
                           version=entry.view.closure.version, headers=_crs_header(query["crs"]))
    return respond(build, query, extra=(featureId,))


# ---------------------------------------------------------------------- helpers

def _check_collection(collection_id: str) -> None:
    if collection_id != COLLECTION:
        raise Problem(404, f"no collection {collection_id!r}; the one collection is {COLLECTION!r}")


def _filtered(snapshot: Snapshot, query: dict) -> list[Entry]:
    """Closures meeting `bbox` (given in `crs`) and in effect at some moment of `datetime`, drafts included."""
    entries = select(snapshot, query)
    if "when" not in query:
        return entries
    start, end = query["when"]
    return [e for e in entries if in_effect(e.timeline, start, end)]


def _the_collection(query: dict, shape) -> "Response":
    """The collection as published now (shaped by `shape`): its extent moves only when a draft goes public."""
    def build(snapshot: Snapshot, who, at: datetime) -> Answer:
        entries = snapshot.select()
        body = dumps(shape(_collection(public(entries, at))))
        return make_answer(body, JSON, lifetime(snapshot, entries, ANONYMOUS, at, at=at))
    return respond(build, query)


def _fixed(document: dict, query: dict):
    """A document that never changes by itself (links are built on the public base URL)."""
    return respond(lambda snapshot, who, at: make_answer(dumps(document), JSON, lifetime(snapshot, (), who, at)),
                   query)


def _collection(entries: list[Entry]) -> dict:
    items_url = public_url_for("ogc.items", collectionId=COLLECTION)
    out = {"id": COLLECTION, "title": "Road closures",
           "description": "Every published road-construction closure, whatever its status; "
                          "`datetime` selects those in effect at an instant or during an interval.",
           "links": [_link(public_url_for("ogc.collection", collectionId=COLLECTION), "self", JSON,
                           "this collection"),
                     _link(items_url, "items", GEOJSON, "the closures")],
           "itemType": "feature", "crs": list(URIS.values()), "storageCrs": URIS[WGS84]}
    found = extent(entries)
    if found is not None:
        out["extent"] = found
    return out


def _items_links(args: dict, next_after: str | None) -> list[dict]:
    base = public_url_for("ogc.items", collectionId=COLLECTION)
    other = "geojson" if args.get("f") == "json" else "json"
    links = [_link(public_request_url(), "self", _geojson_type(args), "this page"),
             _link(_with(base, args, f=other), "alternate", _geojson_type({"f": other}), f"this page as {other}"),
             _link(public_url_for("ogc.collection", collectionId=COLLECTION), "collection", JSON,
                   "the collection")]
    if next_after is not None:
        links.append(_link(_with(base, args, cursor=make_cursor(next_after)), "next", _geojson_type(args),
                           "next page"))
    return links


def _with(base: str, args: dict, **changes: str) -> str:
    """`base` with the request's query parameters, some replaced: paging keeps every filter."""
    return base + "?" + urlencode({**args, **changes})


def _geojson_type(query) -> str:
    """Features are GeoJSON; `f=json` asks for the same bytes labelled plain JSON."""
    return JSON if query.get("f") == "json" else GEOJSON


def _crs_header(crs: str) -> dict:
    return {"Content-Crs": f"<{URIS[crs]}>"}


def _link(href: str, rel: str, type_: str, title: str) -> dict:
    return {"href": href, "rel": rel, "type": type_, "title": title}
