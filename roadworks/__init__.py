"""Roadworks: a road-construction and traffic-closure notice service."""

from __future__ import annotations

from typing import Any

from flask import Flask


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app: settings from ROADWORKS_* (overridden by `config`), storage, blueprints, errors."""
    # Imported here so that importing the pure domain package never drags in Flask.
    from flask_smorest import Api

    from . import observability, services
    from .api import answering, bureau, changes, feeds, limits, ogc, open511, ops, problems, public, routecheck, site
    from .api import desk, headers, openapi, preview, reports, session, subscriptions, urls
    from .api.bodies import ClosureFeatureSchema, FeatureCollectionSchema, ProjectSchema, ReopenSchema
    from .config import settings as settings_of

    app = Flask(__name__, instance_relative_config=True, static_folder=None)
    settings = settings_of(config)
    app.config.update(
        MAX_CONTENT_LENGTH=int(settings["MAX_BODY_BYTES"]), JSON_AS_ASCII=False,
        API_TITLE="Roadworks", API_VERSION="v1", OPENAPI_VERSION="3.0.3", OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json", OPENAPI_SWAGGER_UI_PATH="docs", OPENAPI_SWAGGER_UI_URL="/docs/assets/",
        OPENAPI_SWAGGER_UI_CONFIG={"validatorUrl": None},
        ETAG_DISABLED=True, API_SPEC_OPTIONS={"info": {"description": "Road-construction and closure notices."}})
    app.extensions["roadworks"] = services.build(settings, app.instance_path)
    api = Api(app)
    for name, schema in (("ClosureFeature", ClosureFeatureSchema), ("FeatureCollection", FeatureCollectionSchema),
                         ("Project", ProjectSchema), ("Reopen", ReopenSchema)):
        api.spec.components.schema(name, schema=schema)
    api.register_blueprint(public.blp)
    api.register_blueprint(bureau.blp)
    api.register_blueprint(changes.blp)
    api.register_blueprint(routecheck.blp)
    api.register_blueprint(feeds.blp)
    api.register_blueprint(ogc.blp)
    api.register_blueprint(open511.blp)
    api.register_blueprint(preview.blp)
    api.register_blueprint(reports.blp)
    api.register_blueprint(subscriptions.blp)
    problems.document(api)  # after the last API blueprint: every error documented as problem+json
    openapi.document(api, settings)  # then the bearer scheme, conditional headers and examples
    app.register_blueprint(site.blp)
    app.register_blueprint(ops.blp)
    app.register_blueprint(session.blp)
    app.register_blueprint(desk.blp)
    found = app.extensions["roadworks"]
    # How a request is handled, in one list, innermost first. Each entry wraps what comes before it: WSGI
    # layers wrap the app, before_request hooks run in this order and after_request hooks in the reverse.
    # So a request meets observability (ids, logs, metrics), then the security headers, then ProxyFix and
    # the rate limit, then the replay of kept answers; inside Flask the query-size refusal runs first and
    # the rate count next; on the way out rate headers are added, then compression, then the headers.
    layers = (
        lambda: subscriptions.install(app, found),  # a write wakes the push worker once its answer is made
        lambda: answering.install(app, found, lambda: app.extensions.get("roadworks_limiter")),  # replay, query cap
        lambda: session.install(app, settings),  # the desk's cookie as a token (outside the replay), CSRF checks
        lambda: limits.compress(app),  # gzip/br/zstd for answers that did not compress themselves
        lambda: limits.register(app, settings),  # rate limits (and ProxyFix in front of the replay)
        lambda: urls.install(app, settings),  # absolute URLs on ROADWORKS_PUBLIC_URL, never on the Host header
        lambda: problems.register(app),  # every error as problem+json
        lambda: headers.install(app, getattr(found.clock, "label", None)),  # security headers, CORS, a replay's clock
        lambda: observability.install(app, found, settings["LOG_LEVEL"]),  # outermost: ids, logs, metrics
    )
    for install in layers:
        install()
    return app
