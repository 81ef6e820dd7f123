"""Control of a Toxiproxy server over its HTTP API: proxies and toxics.

`ToxiproxyControl` talks to *its own* server: the API address lives on the
instance, every request has a timeout, and idempotent operations are retried
when the connection fails. (toxiproxy-python keeps the API address in class
attributes shared by every caller and sends requests without a timeout, so a
hung server would hang the nemesis; it is used here only to build `Proxy`
objects for `proxy()`, kept for callers that want them.)

Idempotence, so a retried or repeated call is harmless: creating a proxy that
exists replaces it; adding a toxic that exists updates it; removing a toxic or
proxy that is gone is a no-op.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import requests
from toxiproxy import Toxiproxy
from toxiproxy.api import APIConsumer
from toxiproxy.proxy import Proxy

STREAMS = ("upstream", "downstream")


class ToxiproxyError(RuntimeError):
    """The Toxiproxy API failed or refused a request (carries method, path, status and body)."""

    def __init__(self, method: str, url: str, reason: str, status: int | None = None) -> None:
        self.method = method
        self.url = url
        self.status = status
        super().__init__(f"Toxiproxy {method} {url} failed: {reason}"
                         + (f" (HTTP {status})" if status is not None else "")
                         + "; is toxiproxy-server running and reachable?")


@dataclass(frozen=True, slots=True)
class ProxyAddress:
    """Where a client connects (`listen_*`) to reach `upstream` through the named proxy."""

    name: str
    listen_host: str
    listen_port: int
    upstream: str


class ToxiproxyControl:
    """Create proxies, cut and restore them, add and remove toxics.

    Thread-safe: calls are serialised by a lock (they are short, bounded by
    `timeout`). `attempts` connection attempts are made per call; a server that
    does not answer raises ToxiproxyError after about attempts * timeout seconds.
    """

    def __init__(self, api_url: str, *, timeout: float = 3.0, attempts: int = 3) -> None:
        parsed = urlparse(api_url)
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self.attempts = attempts
        self._lock = threading.Lock()
        self._session = requests.Session()
        # Only for the toxiproxy-python objects `proxy()` returns (class-level address).
        self._server = Toxiproxy()
        self._server.update_api_consumer(parsed.hostname or "127.0.0.1", parsed.port or 8474)

    # -- HTTP -----------------------------------------------------------------
    def _request(self, method: str, path: str, json: Any = None,
                 ok_statuses: tuple[int, ...] = ()) -> Any:
        """One API call; retries connection failures; returns the decoded JSON (or None)."""
        url = self.api_url + path
        last = ""
        for attempt in range(self.attempts):
            try:
                with self._lock:
                    response = self._session.request(method, url, json=json, timeout=self.timeout)
            except requests.RequestException as exc:
                last = f"{type(exc).__name__}: {exc}"
                time.sleep(0.05 * (attempt + 1))
                continue
            if response.status_code >= 400 and response.status_code not in ok_statuses:
                raise ToxiproxyError(method, url, response.text.strip()[:300], response.status_code)
            if response.status_code in ok_statuses or not response.content:
                return None
            try:
                return response.json()
            except ValueError:
                return response.text
        raise ToxiproxyError(method, url, last)

    def version(self) -> str:
        return str(self._request("GET", "/version"))

    # -- proxies --------------------------------------------------------------
    def create_proxy(self, name: str, upstream: str, listen: str = "127.0.0.1:0") -> ProxyAddress:
        """Create (or replace) a proxy; with listen port 0 Toxiproxy picks a free one."""
        self._request("DELETE", f"/proxies/{name}", ok_statuses=(404,))
        created = self._request("POST", "/proxies", json={"name": name, "upstream": upstream,
                                                          "listen": listen, "enabled": True})
        host, _, port = str(created["listen"]).rpartition(":")
        if host in ("", "[::]", "0.0.0.0"):
            host = "127.0.0.1"
        return ProxyAddress(name=name, listen_host=host, listen_port=int(port), upstream=upstream)

    def delete_proxy(self, name: str) -> None:
        self._request("DELETE", f"/proxies/{name}", ok_statuses=(404,))

    def proxy(self, name: str) -> Proxy:
        """The toxiproxy-python object of a proxy (KeyError if there is none)."""
        found = self._request("GET", f"/proxies/{name}", ok_statuses=(404,))
        if found is None:
            raise KeyError(f"no Toxiproxy proxy named {name!r}")
        return Proxy(name=found["name"], upstream=found["upstream"], enabled=found["enabled"],
                     listen=found["listen"])

    def disable(self, name: str) -> None:
        """Refuse connections and drop open ones (clients see errors at once)."""
        self._request("POST", f"/proxies/{name}", json={"enabled": False})

    def enable(self, name: str) -> None:
        self._request("POST", f"/proxies/{name}", json={"enabled": True})

    def proxies(self) -> dict[str, dict[str, Any]]:
        """Server-side state of every proxy: name -> {enabled, listen, upstream}."""
        raw = self._request("GET", "/proxies") or {}
        return {name: {"enabled": p["enabled"], "listen": p["listen"], "upstream": p["upstream"]}
                for name, p in raw.items()}

    # -- toxics ---------------------------------------------------------------
    def add_toxic(self, name: str, toxic_type: str, *, toxic_name: str | None = None,
                  stream: str = "downstream", toxicity: float = 1.0,
                  attributes: dict[str, Any] | None = None) -> str:
        """Add a toxic (latency, timeout, bandwidth, reset_peer, ...) or update it; returns its name."""
        if stream not in STREAMS:
            raise ValueError(f"stream must be one of {STREAMS}, not {stream!r}")
        toxic_name = toxic_name or f"{toxic_type}_{stream}"
        body = {"name": toxic_name, "type": toxic_type, "stream": stream, "toxicity": toxicity,
                "attributes": attributes or {}}
        created = self._request("POST", f"/proxies/{name}/toxics", json=body, ok_statuses=(409,))
        if created is None:  # 409: it exists (e.g. a retried call) -> make it what was asked
            self._request("POST", f"/proxies/{name}/toxics/{toxic_name}",
                          json={"toxicity": toxicity, "attributes": attributes or {}})
        return toxic_name

    def remove_toxic(self, name: str, toxic_name: str) -> None:
        """Remove one toxic; a toxic (or proxy) that is already gone is fine."""
        self._request("DELETE", f"/proxies/{name}/toxics/{toxic_name}", ok_statuses=(404,))

    def toxics(self, name: str) -> list[str]:
        return sorted(t["name"] for t in self._request("GET", f"/proxies/{name}/toxics") or [])

    def toxic_details(self, name: str) -> dict[str, dict[str, Any]]:
        """name -> {type, stream, toxicity, attributes} of every toxic on the proxy."""
        return {t["name"]: t for t in self._request("GET", f"/proxies/{name}/toxics") or []}

    def reset(self) -> None:
        """Enable every proxy and remove every toxic (heal everything)."""
        self._request("POST", "/reset")

    def close(self) -> None:
        self._session.close()

    @staticmethod
    def api_address() -> tuple[str, int]:
        """The address toxiproxy-python's class-level consumer points at (legacy)."""
        return APIConsumer.host, APIConsumer.port
