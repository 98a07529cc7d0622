"""`assistant chat "question"` (one shot, prints the answer and its sources; --json) and `assistant ingest PATH`."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from assistant.cli.common import JsonFlag, build_settings, fail, print_json_last


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    @app.command()
    def chat(
        question: str = typer.Argument(..., help="The customer's question."),
        conversation: str = typer.Option(None, "--conversation", "-c", help="Continue this conversation id."),
        as_json: JsonFlag = False,
        backend: str = typer.Option(None, help="auto | transformers | onnx | vllm | openai | fake"),
        model: str = typer.Option(None, help="Chat model: HF folder, GGUF file or hub id."),
        embedding_model: str = typer.Option(None, help="Embedding model folder or hub id."),
    ) -> None:
        """Ask one question in-process and print the grounded answer with its sources."""
        from assistant.engine.errors import ConversationNotFound
        from assistant.engine.facade import Assistant, InvalidMessage

        settings = build_settings(**{"engine.backend": backend, "engine.chat_model": model,
                                     "retrieval.embedding_model": embedding_model})

        async def run() -> object:
            assistant = Assistant.from_settings(settings, progress=not as_json)
            await assistant.start()
            try:
                if not as_json:
                    async for event in assistant.stream(question, conversation):
                        if event.type == "token":
                            typer.echo(event.text, nl=False)
                        elif event.type == "done":
                            typer.echo("")
                            return event.reply
                return await assistant.chat(question, conversation)
            finally:
                await assistant.close()

        try:
            reply = asyncio.run(run())
        except InvalidMessage as exc:
            fail(str(exc))
        except ConversationNotFound as exc:
            fail(f"no conversation with id {exc.args[0]!r}")
        if as_json:
            print_json_last(reply.model_dump(mode="json"))
            return
        meta = f"intent: {reply.intent or 'out of scope'} ({reply.confidence:.2f}), route: {reply.route}"
        typer.echo(f"\n[{meta}; conversation {reply.conversation_id}]")
        for s in reply.sources:
            typer.echo(f"  [{s.index}] {s.title} ({s.doc_id}) score {s.score:.2f}")

    @app.command()
    def ingest(
        paths: list[Path] = typer.Argument(..., help="Files or folders to add to the knowledge base."),
        namespace: str = typer.Option("default", help="Knowledge-base namespace (one per site)."),
        base_url: str = typer.Option(None, "--base-url", help="Where the folder is published: documents "
                                     "without a url of their own link to it + their file's path."),
    ) -> None:
        """Add documents to the knowledge base (unchanged files are skipped)."""
        from assistant.engine.errors import RetrievalError
        from assistant.engine.knowledge import KnowledgeBase

        missing = [str(p) for p in paths if not p.exists()]
        if missing:
            fail(f"no such file or folder: {', '.join(missing)}")
        knowledge = KnowledgeBase.open(build_settings())
        try:
            report = knowledge.add_documents(paths, namespace, progress=True, base_url=base_url)
        except RetrievalError as exc:
            fail(str(exc))
        typer.echo(f"added {report.added}, updated {report.updated}, skipped {report.skipped}, chunks {report.chunks}")
        for path, message in report.errors:
            typer.echo(f"error: {path}: {message}", err=True)
        if report.errors and not (report.added or report.updated or report.skipped):
            raise typer.Exit(1)
