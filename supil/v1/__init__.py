"""Generated gRPC stubs for the supil.v1 API (regenerate with `make protos`; never edit by hand)."""
