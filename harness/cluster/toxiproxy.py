"""Control of a Toxiproxy server through toxiproxy-python: proxies and toxics.

toxiproxy-python keeps its API address in a class attribute; `ToxiproxyControl`
sets it on construction, so use one control object per server at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from toxiproxy import Toxiproxy
from toxiproxy.api import APIConsumer
from toxiproxy.proxy import Proxy


@dataclass(frozen=True, slots=True)
class ProxyAddress:
    """Where a client connects (`listen_*`) to reach `upstream` through the named proxy."""

    name: str
    listen_host: str
    listen_port: int
    upstream: str


class ToxiproxyControl:
    """Create proxies, cut and restore them, add and remove toxics."""

    def __init__(self, api_url: str) -> None:
        parsed = urlparse(api_url)
        self.api_url = api_url
        self._server = Toxiproxy()
        self._server.update_api_consumer(parsed.hostname or "127.0.0.1", parsed.port or 8474)
        self._proxies: dict[str, Proxy] = {}

    def create_proxy(self, name: str, upstream: str, listen: str = "127.0.0.1:0") -> ProxyAddress:
        """Create (or replace) a proxy; with listen port 0 Toxiproxy picks a free one."""
        existing = self._server.get_proxy(name)
        if existing is not None:
            existing.destroy()
        proxy = self._server.create(upstream=upstream, name=name, listen=listen, enabled=True)
        self._proxies[name] = proxy
        host, _, port = proxy.listen.rpartition(":")
        return ProxyAddress(name=name, listen_host=host or "127.0.0.1", listen_port=int(port),
                            upstream=upstream)

    def proxy(self, name: str) -> Proxy:
        if name not in self._proxies:
            found = self._server.get_proxy(name)
            if found is None:
                raise KeyError(f"no Toxiproxy proxy named {name!r}")
            self._proxies[name] = found
        return self._proxies[name]

    def disable(self, name: str) -> None:
        """Refuse connections and drop open ones (clients see errors at once)."""
        self.proxy(name).disable()

    def enable(self, name: str) -> None:
        self.proxy(name).enable()

    def add_toxic(self, name: str, toxic_type: str, *, toxic_name: str | None = None,
                  stream: str = "downstream", toxicity: float = 1.0,
                  attributes: dict[str, Any] | None = None) -> str:
        """Add a toxic (latency, timeout, bandwidth, reset_peer, ...); returns its name."""
        toxic_name = toxic_name or f"{toxic_type}_{stream}"
        self.proxy(name).add_toxic(type=toxic_type, name=toxic_name, stream=stream,
                                   toxicity=toxicity, attributes=attributes or {})
        return toxic_name

    def remove_toxic(self, name: str, toxic_name: str) -> None:
        self.proxy(name).destroy_toxic(toxic_name)

    def toxics(self, name: str) -> list[str]:
        return sorted(self.proxy(name).toxics())

    def reset(self) -> None:
        """Enable every proxy and remove every toxic (heal everything)."""
        self._server.reset()

    def proxies(self) -> dict[str, dict[str, Any]]:
        """Server-side state of every proxy: name -> {enabled, listen, upstream}."""
        return {name: {"enabled": p.enabled, "listen": p.listen, "upstream": p.upstream}
                for name, p in self._server.proxies().items()}

    @staticmethod
    def api_address() -> tuple[str, int]:
        return APIConsumer.host, APIConsumer.port
