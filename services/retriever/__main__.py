"""Entry point: python -m services.retriever [--host H] [--port P] [--workspace DIR]."""

from services.retriever.server import create_server
from services.runtime import serve

if __name__ == "__main__":
    raise SystemExit(serve("retriever", create_server))
