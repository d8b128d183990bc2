"""OGC API - Features Part 1 over the published closures: landing page, conformance, collections, items."""

from __future__ import annotations

from .queries import ApiBlueprint

blp = ApiBlueprint("ogc", __name__, url_prefix="/ogc", description="OGC API - Features (Part 1: Core)")
