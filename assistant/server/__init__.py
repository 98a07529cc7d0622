"""HTTP server layer: FastAPI app factory, thin routers, SSE encoding, one error schema."""
