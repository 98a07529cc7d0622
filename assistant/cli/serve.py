"""`assistant serve [--host H] [--port P]`: the API, chat page (/ui) and console on one port.
`assistant prepare`: build the models a first start needs into the model cache ahead (`make install` runs it)."""

from __future__ import annotations

import typer

from assistant.cli.common import build_settings, fail


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    @app.command()
    def prepare() -> None:
        """Build the chat model's conversion, the ONNX exports and the intent model into the model cache, so that
        the first `serve` starts without them."""
        import asyncio
        import time

        from assistant.engine.backends import BackendError
        from assistant.engine.facade import Assistant

        settings = build_settings()
        started = time.perf_counter()
        try:
            asyncio.run(Assistant.prepare(settings))
        except BackendError as exc:
            fail(str(exc))
        typer.echo(f"models ready in {settings.cache_dir} ({time.perf_counter() - started:.0f} s)")

    @app.command()
    def serve(
        host: str = typer.Option(None, help="Interface to bind (default from settings: 127.0.0.1)."),
        port: int = typer.Option(None, help="Port (default from settings: 8000)."),
        backend: str = typer.Option(None, help="auto | transformers | onnx | vllm | openai | fake"),
        model: str = typer.Option(None, help="Chat model: HF folder, GGUF file or hub id."),
        embedding_model: str = typer.Option(None, help="Embedding model folder or hub id."),
    ) -> None:
        """Start the server; models load in the background (watch /readyz)."""
        import uvicorn

        from assistant.main import build_app
        from assistant.server.logging import configure_logging, log_config

        settings = build_settings(**{
            "server.host": host, "server.port": port, "engine.backend": backend,
            "engine.chat_model": model, "retrieval.embedding_model": embedding_model,
        })
        typer.echo(f"Serving on http://{settings.server.host}:{settings.server.port}  (chat page: /ui)")
        configure_logging(settings)  # before the app is built: its start-up lines are JSON too
        uvicorn.run(build_app(settings), host=settings.server.host, port=settings.server.port,
                    log_config=log_config(settings), access_log=False,
                    timeout_graceful_shutdown=30)
