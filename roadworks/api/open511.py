"""Open511 events over the published closures, in JSON and XML."""

from __future__ import annotations

from .queries import ApiBlueprint

blp = ApiBlueprint("open511", __name__, url_prefix="/open511", description="Open511 road events")
