"""Thin routers: parse, call the facade, shape the response."""
