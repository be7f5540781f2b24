"""The decision service over HTTP (`aios serve`): FastAPI and uvicorn have their home here. It owns the
routes, their typed bodies, the one error shape, the body limit and the bearer-token check, and hands
every decision, explanation, answer and log read to the thread pool. It may import aios_policy.constitution,
words, engine, record, analysis and guide, and aios_policy.serve.live, writer and identity; never
aios_policy.cli, which imports it.
"""

from .app import create_app

__all__ = ["create_app"]
