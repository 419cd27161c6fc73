"""Entry point: python -m services.cleaner [--host H] [--port P] [--workspace DIR]."""

from services.cleaner.server import create_server
from services.runtime import serve

if __name__ == "__main__":
    raise SystemExit(serve("cleaner", create_server))
