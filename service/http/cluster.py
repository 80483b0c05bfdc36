"""`newsqa serve --ray`: a sharded archive (indexer/shards.py) served on Ray Serve.

One deployment per shard (`ShardServer`, `replicas` replicas each) holds that shard's index and
answers the ingress's calls (service/core/shards.py: Shard); one ingress deployment runs the
same FastAPI app as `newsqa serve` (routes, JSON, errors, page), whose index fans each question
out to the shards. Ray is imported here only, when serving asks for it.
"""

from __future__ import annotations

import os
from typing import Any

from indexer.distributed import connect
from indexer.settings import Settings
from service.core.shards import Pending, Shard

APP = "newsqa"
# Replicas ask Ray for no CPU of their own: a question keeps one core busy for a few
# milliseconds, and reserving a core each would let a 2-core machine start only two of them.
REPLICA_CPUS = 0.0


class ShardServer:
    """A replica of one shard: `call(method, *args)` runs `Shard.method(*args)`."""

    def __init__(self, number: int, settings: Settings) -> None:
        os.environ["HF_HUB_OFFLINE"] = "1"
        self.shard = Shard(number, settings)

    def call(self, method: str, *args: Any) -> Any:
        return getattr(self.shard, method)(*args)


class RayShard:
    """The ingress's client of a shard deployment: calls go to one of its replicas."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle

    def call(self, method: str, *args: Any) -> Pending:
        response: Pending = self.handle.call.remote(method, *args)
        return response


class Ingress:
    """The ingress replica: the API of `newsqa serve` over the shard deployments."""

    def __init__(self, settings: Settings, *shards: Any) -> None:
        os.environ["HF_HUB_OFFLINE"] = "1"
        self.settings = settings
        self.clients = [RayShard(handle) for handle in shards]

    def __serve_build_asgi_app__(self) -> Any:
        from service.http.api import create_app

        return create_app(self.settings, shards=self.clients)


def application(settings: Settings, shards: int, replicas: int) -> Any:
    """The Ray Serve application: `shards` shard deployments of `replicas` replicas, and the ingress."""
    from ray import serve

    options = {"num_cpus": REPLICA_CPUS}
    shard: Any = serve.deployment(ShardServer, ray_actor_options=options)
    bound = [
        shard.options(name=f"shard-{number}", num_replicas=replicas).bind(number, settings)
        for number in range(shards)
    ]
    ingress: Any = serve.deployment(serve.ingress()(Ingress), name="ingress", ray_actor_options=options)
    return ingress.bind(settings, *bound)


def start(settings: Settings, address: str | None, shards: int, replicas: int) -> None:
    """Deploy the application on the Ray cluster at `address`, its HTTP proxy listening on
    `settings.host:settings.port`; returns once every replica is up."""
    connect(address)
    from ray import serve

    serve.start(http_options={"host": settings.host, "port": settings.port})
    serve.run(application(settings, shards, replicas), name=APP, route_prefix="/")


def stop() -> None:
    """Take the application and Ray Serve's HTTP proxies down (the next start binds its own
    port), if this process got as far as connecting."""
    import ray

    if not ray.is_initialized():
        return
    from ray import serve

    serve.shutdown()  # type: ignore[no-untyped-call]
