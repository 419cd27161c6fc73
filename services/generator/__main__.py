"""Entry point: python -m services.generator [--host H] [--port P] [--workspace DIR]."""

from services.generator.server import create_server
from services.runtime import serve

if __name__ == "__main__":
    raise SystemExit(serve("generator", create_server))
