"""Python SDK: sync and async clients for the REST API (httpx), typed responses and stream events."""
