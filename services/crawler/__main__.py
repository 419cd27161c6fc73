"""Entry point: python -m services.crawler [--host H] [--port P] [--workspace DIR]."""

from services.crawler.server import create_server
from services.runtime import serve

if __name__ == "__main__":
    raise SystemExit(serve("crawler", create_server))
