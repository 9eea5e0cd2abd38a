"""The online prediction server: deployments, feature resolution, fallbacks, prediction log.

``create_app(project, ["fraud@production"])`` builds the ASGI app; ``serve(...)`` (and
``skewless serve``) runs it with uvicorn worker processes.
"""

from skewless.serving._app import create_app
from skewless.serving._server import serve

__all__ = ["create_app", "serve"]
