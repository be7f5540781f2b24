"""`aios serve`'s application: the service, its lifespan, the routers, the error handlers and the body limit.

    app = create_app("constitution", ref="main", tokens=".aios/tokens.json")
    uvicorn.run(app, host="127.0.0.1", port=8181)
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from aios_policy import __version__
from aios_policy.record.log import default_log_path
from aios_policy.serve.identity import default_tokens_path
from aios_policy.serve.live import DEFAULT_RELOAD_SECONDS

from .errors import install_handlers
from .limits import MAX_BODY_BYTES, BodyLimit
from .routes import routers
from .service import Service

DESCRIPTION = ("Decisions (automate / escalate / deny / needs_info) from a company's constitution as code, at the "
               "newest valid commit of a git ref. Every decision is logged with the caller's identity (from the "
               "bearer token) as its actor.")


def create_app(constitution: str | os.PathLike[str], ref: str | None = "main",
               tokens: str | os.PathLike[str] | None = None, log: str | os.PathLike[str] | None = None,
               reload_interval: float = DEFAULT_RELOAD_SECONDS, max_body_bytes: int = MAX_BODY_BYTES,
               anchor_every: float | None = None, anchor_to: str | os.PathLike[str] | None = None) -> FastAPI:
    """The decision service for the constitution folder at `ref`. Raises AiosError (an invalid constitution,
    an unreadable tokens file) before anything listens. The log writer and the reload thread run between the
    app's startup and shutdown; shutdown writes every queued decision."""
    service = Service(constitution, ref, Path(tokens) if tokens else default_tokens_path(constitution),
                      Path(log) if log else default_log_path(constitution), reload_interval, anchor_every,
                      Path(anchor_to) if anchor_to else None)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.start()
        try:
            yield
        finally:
            service.stop()

    app = FastAPI(title="aios-policy decision service", version=__version__, description=DESCRIPTION,
                  lifespan=lifespan)
    app.state.service = service
    for router in routers:
        app.include_router(router)
    install_handlers(app, service.hidden)
    app.add_middleware(BodyLimit, limit=max_body_bytes)
    return app
