"""Apps made once and lent to one test at a time: what create_app leaves behind, put back before each loan."""

from __future__ import annotations

import copy
from typing import Any

from flask import Flask

from roadworks import create_app, observability, services
from roadworks.api.limits import RateLimiter
from roadworks.config import from_environment

# Settings whose values are plain data: an app made with them can be told apart from another by them alone.
PLAIN = (str, int, float, bool, type(None))


class AppPool:
    """Apps by their settings (ROADWORKS_* variables included): create_app runs once per distinct settings,
    and every loan starts as that call left the app. Settings holding objects other than `base`'s clock
    get an app of their own, dropped when given back; so does an app whose make-up a test changed."""

    def __init__(self, base: dict[str, Any]):
        self.base = base
        self.idle: dict[frozenset, list[Pristine]] = {}
        self.lent: dict[int, tuple[frozenset | None, Pristine]] = {}

    def lend(self, **config: Any) -> Flask:
        config = {**self.base, **config}
        key = self._key({**from_environment(), **config})
        if key is not None and self.idle.get(key):
            pristine = self.idle[key].pop()
            pristine.restore()
        else:
            app = create_app(config)
            app.config["TESTING"] = True
            pristine = Pristine(app)
        self.lent[id(pristine.app)] = (key, pristine)
        return pristine.app

    def give_back(self, app: Flask) -> list[str]:
        """Take `app` back; the parts of its make-up the test changed (then it is not lent again)."""
        key, pristine = self.lent.pop(id(app))
        changed = pristine.changed()
        if key is None or changed:
            pristine.engine.dispose()
        else:
            self.idle.setdefault(key, []).append(pristine)
        return changed

    def close(self) -> None:
        for pristine in [p for kept in self.idle.values() for p in kept] + [p for _, p in self.lent.values()]:
            pristine.engine.dispose()

    def _key(self, settings: dict[str, Any]) -> frozenset | None:
        if settings.get("CLOCK") is not self.base.get("CLOCK"):
            return None
        plain = {name: value for name, value in settings.items() if name != "CLOCK"}
        return frozenset(plain.items()) if all(isinstance(v, PLAIN) for v in plain.values()) else None


class Pristine:
    """An app as create_app left it. `restore` renews every piece of state a test can reach; `changed`
    names any part of the app's make-up (routes, hooks, middleware, extensions) a test altered, which
    no reset can undo and so no shared app may suffer.

    The stateful parts are renewed in place (the same objects, emptied and built again by their own
    constructors), because the middleware and hooks create_app installed hold on to those objects.
    """

    def __init__(self, app: Flask):
        self.app = app
        found = app.extensions["roadworks"]
        self.services, self.settings = found, dict(found.settings)
        self.engine = found.store.engine  # kept: disposed (no pooled connection) by each renewal
        self.limiter, self.metrics = app.extensions["roadworks_limiter"], app.extensions["roadworks_metrics"]
        self.config = copy.deepcopy(dict(app.config))
        self.outermost = app.wsgi_app  # observability.Observed: its route memo is emptied too
        self.make_up = make_up(app)

    def restore(self) -> None:
        """Settings, config, log level, services (store, read model, answer cache, fragment memo, registry),
        rate-limit counts and metrics, each as a fresh create_app would have them. The engine is the one
        create_app opened, with its pool emptied: only its cache of compiled statements outlives a test."""
        settings = self.services.settings  # the dict create_app's middleware holds (make_up checks it is)
        settings.clear()
        settings.update(self.settings)
        self.app.config.clear()
        self.app.config.update(copy.deepcopy(self.config))
        observability.configure_logging(settings["LOG_LEVEL"])
        _renew(self.services, vars(services.build(settings, self.app.instance_path, self.engine)))
        _rebuild(self.limiter, RateLimiter, settings)
        _rebuild(self.metrics, observability.Metrics, self.services)
        self.outermost.route_of.cache_clear()

    def changed(self) -> list[str]:
        """The parts of the app's make-up that differ from what create_app made."""
        now = make_up(self.app)
        return [part for part, value in self.make_up.items() if now.get(part) != value]


def make_up(app: Flask) -> dict[str, Any]:
    """What a test must never alter on a shared app, by identity: routes, views, hooks, error handlers,
    WSGI layers, extensions and blueprints; and the compressor's settings by value."""
    layers, layer = [], app.wsgi_app
    while layer is not None:
        layers.append(id(layer))
        layer = getattr(layer, "wsgi_app", None) or getattr(layer, "app", None)
        if isinstance(layer, Flask):
            break
    compressor = app.extensions.get("roadworks_compressor")
    return {
        "routes": tuple((r.rule, r.endpoint, tuple(sorted(r.methods or ()))) for r in app.url_map.iter_rules()),
        "views": {name: id(view) for name, view in app.view_functions.items()},
        "hooks": {name: {k: tuple(map(id, v)) for k, v in getattr(app, name).items()}
                  for name in ("before_request_funcs", "after_request_funcs", "teardown_request_funcs",
                               "url_value_preprocessors", "url_default_functions",
                               "template_context_processors")},
        # Flask's defaultdicts grow empty entries as errors are looked up: only handlers count.
        "error handlers": {(blueprint, code, kind): id(handler)
                           for blueprint, by_code in app.error_handler_spec.items()
                           for code, by_kind in by_code.items() for kind, handler in by_kind.items()},
        "wsgi layers": tuple(layers),
        "extensions": {name: id(value) for name, value in app.extensions.items()},
        "settings": id(app.extensions["roadworks"].settings),  # held by middleware; its content is restored
        "blueprints": {name: id(value) for name, value in app.blueprints.items()},
        "compressor": copy.deepcopy({k: v for k, v in vars(compressor).items() if not isinstance(v, Flask)})
        if compressor else None,
    }


def _renew(target: object, fresh: dict[str, Any]) -> None:
    """Give `target` exactly the attributes of a freshly built object of its kind."""
    vars(target).clear()
    vars(target).update(fresh)


def _rebuild(target: object, kind: type, *args: Any) -> None:
    """Build `target` again in place with its constructor, dropping anything a test or a request added."""
    vars(target).clear()
    kind.__init__(target, *args)
