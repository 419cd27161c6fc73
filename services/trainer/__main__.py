"""Entry point: python -m services.trainer [--host H] [--port P] [--workspace DIR]."""

from services.runtime import serve
from services.trainer.server import create_server

if __name__ == "__main__":
    raise SystemExit(serve("trainer", create_server))
