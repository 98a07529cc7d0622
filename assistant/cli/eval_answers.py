"""`assistant eval answers --kb KB.jsonl --queries QUERIES.jsonl [--json] [--plot PNG] [--calibrate] [--limit N]`.

Runs every query through the whole pipeline (the `Assistant` facade: understanding, templates,
retrieval, abstention, handoff, generation) over a throwaway index and database in a temp dir,
one new conversation per query so that handoff-by-repetition cannot leak between queries; a query with a
`history` (the customer's earlier messages) is asked after them in its conversation (a follow-up).
KB.jsonl is one {"id","title","text"} per line; QUERIES.jsonl is {"query","relevant":[ids]} per
line, where an empty `relevant` means the KB has no answer. Reports source_hit_at_1,
answered_rate, abstain_or_handoff_rate_unanswerable and latency; `--json` prints them as the last
stdout line. `--calibrate` sweeps the abstention threshold over the top retrieval score each query
got (recorded once, no re-run) and recommends a value for understanding.min_retrieval_score.
A query may carry a `reference_answer` that every answered reply is compared with; every answered reply is
also checked for faithfulness to its sources and for defects (eval_text.py): report, `--details`, `--plot`.

Templates (`--templates`): `auto` uses the bundled sample templates only when the KB holds every
page they cite (the sample store); on any other KB they would answer with the store's facts, so
none are used. `none` or a YAML path overrides. Intent model (`--intent-model DIR`, trained from the
bundled sample intents and saved there when missing): by default the app's configured model when it
exists, else one trained from the samples into the temp dir (a few minutes on 2 cores).
"""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import typer

from assistant.cli.common import JsonFlag, build_settings, fail, print_json_last
from assistant.cli.eval_calibration import MIN_ANSWERED, SETTING, calibrate
from assistant.cli.eval_text import ANSWERED_ROUTES, add_similarities, judge, plot_text, text_metrics

NO_TEMPLATES = "# eval answers: no curated answers\nslots: {}\nintents: {}\n"
_MARKER = re.compile(r"\[(\d+)\]")


@dataclass
class Outcome:
    """What one query's turn did, and what the threshold sweep needs to replay it."""

    query: str
    answerable: bool
    route: str
    cited: str | None  # doc id of the first cited source
    hit: bool  # cited source is relevant
    top_score: float | None  # None when the score threshold never decided the turn (template, handoff)
    top_relevant: bool  # the page the facade leads with is relevant (what a newly answered query would cite)
    latency_ms: float
    template_id: str | None = None
    answer: str = ""
    ttft_ms: float | None = None  # time to the first streamed answer token
    prompt_tokens: int = 0  # 0 when no model ran
    intent: str | None = None  # the intent model's verdict (None = out of scope)
    confidence: float = 0.0
    top_doc: str | None = None  # the page the facade leads with (retrieval order, near-tie broken by the intent)
    reference_answer: str | None = None
    answer_similarity: float | None = None  # cosine with reference_answer; answered replies only
    faithful: bool | None = None  # None: not answered, or a cited passage could not be read whole
    defects: list[str] = field(default_factory=list)  # answer_checks.DEFECTS the answered reply shows

    @property
    def answered(self) -> bool:
        return self.route in ANSWERED_ROUTES


class _ScoreRecorder:
    """Stands in for the retriever inside the facade and keeps the hits of the last search."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.last: list[Any] | None = None

    def search(self, *args: Any, **kwargs: Any) -> list[Any]:
        self.last = self.inner.search(*args, **kwargs)
        return self.last

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def load_inputs(kb: Path, queries: Path) -> tuple[list[Any], list[Any]]:
    """KB documents and queries, checked: every `relevant` id must name a KB document."""
    from retrieval.errors import LoaderError
    from retrieval.evaluation import load_kb, load_queries

    for path in (kb, queries):
        if not path.is_file():
            fail(f"file not found: {path}")
    try:
        docs = load_kb(kb)
    except (LoaderError, OSError, UnicodeDecodeError) as exc:
        fail(str(exc) if str(kb) in str(exc) else f"{kb}: {exc}")
    try:
        query_set = load_queries(queries)
    except (LoaderError, OSError, UnicodeDecodeError) as exc:
        fail(str(exc) if str(queries) in str(exc) else f"{queries}: {exc}")
    if not docs:
        fail(f"{kb}: no documents")
    ids = {d.id for d in docs}
    for n, q in enumerate(query_set, start=1):
        unknown = sorted(q.relevant - ids)
        if unknown:
            fail(f"{queries}: query {n} ({q.query[:40]!r}): relevant id {unknown[0]!r} is not in {kb.name}")
    return docs, query_set


def pick_templates(choice: str, doc_ids: set[str], tmp: Path) -> tuple[Path, str]:
    """(templates YAML to use, label for the report) for `--templates auto|none|PATH`."""
    from assistant.engine.understanding.templates import TemplateBook, TemplateError
    from assistant.engine.understanding.understanding import SAMPLE_TEMPLATES

    none = tmp / "no-templates.yaml"
    none.write_text(NO_TEMPLATES, encoding="utf-8")
    if choice == "none":
        return none, "none"
    if choice != "auto":
        path = Path(choice)
        try:
            TemplateBook.load(path)
        except TemplateError as exc:
            fail(str(exc))
        return path, str(path)
    book = TemplateBook.load(SAMPLE_TEMPLATES)
    cited = {s for templates in book.by_intent.values() for t in templates for s in t.sources}
    return (SAMPLE_TEMPLATES, "sample") if cited <= doc_ids else (none, "none (KB is not the sample store)")


def cited_doc(reply: Any) -> str | None:
    """The reply's first `[n]` marker that maps to a source, else its first source, else None."""
    by_index = {s.index: s.doc_id for s in reply.sources}
    for match in _MARKER.finditer(reply.answer or ""):
        if int(match.group(1)) in by_index:
            return by_index[int(match.group(1))]
    return reply.sources[0].doc_id if reply.sources else None


async def run_queries(settings: Any, query_set: list[Any], progress: bool,
                      pages: dict[str, Any] | None = None) -> list[Outcome]:
    """Every query through the facade; `pages` (KB documents by id) hold template replies to whole pages."""
    from tqdm.auto import tqdm

    from assistant.engine.facade import Assistant

    assistant = Assistant.from_settings(settings, progress=progress)
    recorder = assistant.instrument_search(_ScoreRecorder)
    await assistant.start()
    outcomes: list[Outcome] = []
    try:
        for q in tqdm(query_set, desc="answers", unit="query", disable=not progress):
            conversation = None
            for earlier in q.history:  # a follow-up: the customer's earlier messages first, in the same chat
                conversation = (await assistant.chat(earlier, conversation)).conversation_id
            recorder.last = None
            started = time.perf_counter()
            reply = await assistant.chat(q.query, conversation)
            latency = (time.perf_counter() - started) * 1000
            hits = recorder.last
            cls = assistant.classify(q.query)
            if hits and reply.route != "template":  # the order the facade answered from
                hits = assistant.lead_with_intent_page(cls, hits)
            cited = cited_doc(reply)
            outcomes.append(Outcome(
                query=q.query, answerable=bool(q.relevant), template_id=reply.template_id, answer=reply.answer, route=reply.route, cited=cited, hit=cited in q.relevant,
                # a template reply searched only to corroborate; the score threshold never applied to it
                top_score=max((h.score for h in hits), default=0.0) if hits is not None and reply.route != "template"
                else None,
                top_relevant=bool(hits) and hits[0].doc_id in q.relevant, latency_ms=latency,
                ttft_ms=reply.timings.ttft_ms if reply.timings else None,
                prompt_tokens=reply.timings.prompt_tokens if reply.timings else 0,
                intent=reply.intent, confidence=reply.confidence, top_doc=hits[0].doc_id if hits else None,
                reference_answer=q.reference_answer,
            ))
            if outcomes[-1].answered:  # the full texts of the passages it cites are the recorded hits
                outcomes[-1].defects, outcomes[-1].faithful = judge(reply, q.query, hits, pages)
        add_similarities(outcomes, getattr(getattr(recorder.inner, "embedder", None), "encode", None))
    finally:
        await assistant.close()
    return outcomes


def _rate(flags: list[bool]) -> float | None:
    return round(float(np.mean(flags)), 4) if flags else None


def compute_metrics(outcomes: list[Outcome]) -> dict[str, Any]:
    answerable = [o for o in outcomes if o.answerable]
    unanswerable = [o for o in outcomes if not o.answerable]
    routes: dict[str, int] = {}
    for o in outcomes:
        routes[o.route] = routes.get(o.route, 0) + 1
    latencies = [o.latency_ms for o in outcomes]
    # turns the model drafted: shown as generated, or replaced by the extractive answer after the check
    generated = [o for o in outcomes if o.route in ("generate", "extractive") and o.ttft_ms is not None
                 and o.prompt_tokens]  # an extractive answer without a draft (engine.answers) asked no model
    return {
        "source_hit_at_1": _rate([o.hit for o in answerable]),
        "answered_rate": _rate([o.answered for o in answerable]),
        "abstain_or_handoff_rate_unanswerable": _rate([not o.answered for o in unanswerable]),
        "hit_rate_when_answered": _rate([o.hit for o in answerable if o.answered]),
        "answered_rate_unanswerable": _rate([o.answered for o in unanswerable]),
        "latency_ms_p50": round(float(np.percentile(latencies, 50)), 1),
        "latency_ms_p90": round(float(np.percentile(latencies, 90)), 1),
        # grounded (generated) turns only: what the serving target "TTFT, grounded answer" means
        "ttft_ms_p50_generated": round(float(np.percentile([o.ttft_ms for o in generated], 50)), 1) if generated else None,
        "prompt_tokens_p50_generated": int(np.percentile([o.prompt_tokens for o in generated], 50)) if generated else None,
        "queries": len(outcomes), "answerable": len(answerable), "unanswerable": len(unanswerable),
        "routes": dict(sorted(routes.items())),
        **text_metrics(outcomes),
    }


def plot(outcomes: list[Outcome], calibration: dict[str, Any] | None, path: Path, title: str) -> None:
    """2x2 answerable/unanswerable x answered/abstained counts, plus the threshold sweep when calibrated."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = np.array([[sum(1 for o in outcomes if o.answerable == row and o.answered == col) for col in (True, False)]
                       for row in (True, False)])
    columns = 3 + bool(calibration)  # + similarity histogram and defect bars
    fig, axes = plt.subplots(1, columns, figsize=(5.5 * columns, 4.5), squeeze=False)
    ax = axes[0][0]
    shares = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for i in range(2):
        for j in range(2):
            ax.text(j, i, f"{matrix[i, j]}\n({shares[i, j]:.0%})", ha="center", va="center",
                    color="white" if shares[i, j] > 0.5 else "black")
    ax.set_xticks([0, 1], ["answered", "abstained / handoff"])
    ax.set_yticks([0, 1], ["answerable", "unanswerable"])
    ax.set_title(title)
    if calibration:
        ax = axes[0][1]
        sweep = calibration["sweep"]
        xs = [s["threshold"] for s in sweep]
        for key, label in (("answered_rate", "answered (answerable)"),
                           ("abstain_or_handoff_rate_unanswerable", "abstain/handoff (unanswerable)"),
                           ("source_hit_at_1", "source hit@1 (answerable)")):
            ax.step(xs, [s[key] for s in sweep], where="post", label=label)
        ax.axhline(MIN_ANSWERED, color="grey", lw=0.8, ls=":")
        ax.axvline(calibration["current_threshold"], color="black", ls="--", lw=1, label="current")
        ax.axvline(calibration["recommended_threshold"], color="red", ls="--", lw=1, label="recommended")
        ax.set_xlabel(f"{SETTING} (top calibrated retrieval score)")
        ax.set_ylim(0, 1.02)
        ax.set_title("Abstention threshold sweep")
        ax.legend(fontsize=8, loc="lower left")
    plot_text(axes[0][-2:], outcomes)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report(metrics: dict[str, Any], header: str) -> None:
    typer.echo(header)
    typer.echo(f"  {'metric':<40}{'value':>10}")
    for key, value in metrics.items():
        if isinstance(value, float | int) and not isinstance(value, bool):
            typer.echo(f"  {key:<40}{value:>10}")
        elif value is None:
            typer.echo(f"  {key:<40}{'n/a':>10}")
    typer.echo("  routes: " + ", ".join(f"{k} {v}" for k, v in metrics["routes"].items()))
    typer.echo("  defects (answered): " + ", ".join(f"{k} {v}" for k, v in metrics["defects"].items()))
    cal = metrics.get("calibration")
    if cal:
        rec, now = cal["recommended"], cal["at_current"]
        typer.echo(f"  calibration of {cal['setting']} ({cal['env']}):")
        for name, row in (("current", now), ("recommended", rec), ("F-best", cal["f_best"])):
            typer.echo(f"    {name:<12} {row['threshold']:.4f}: answered {row['answered_rate']:.3f}, "
                       f"abstain/handoff on unanswerable {row['abstain_or_handoff_rate_unanswerable']:.3f}, "
                       f"source hit@1 {row['source_hit_at_1']:.3f}")
        if not cal["constraint_met"]:
            typer.echo(f"    no threshold keeps {cal['constraint']}; recommended = the one answering most")


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    @eval_app.command("answers")
    def eval_answers(
        kb: Path = typer.Option(..., "--kb", help='KB JSONL: {"id","title","text"} per line.'),
        queries: Path = typer.Option(..., "--queries", help='Queries JSONL: {"query","relevant":[ids]} '
                                     'per line, optionally "reference_answer"; [] = no answer.'),
        as_json: JsonFlag = False,
        plot_path: Path = typer.Option(None, "--plot", help="Write a PNG: answered/abstained (+ sweep), "
                                       "answer similarity, defects."),
        limit: int = typer.Option(None, "--limit", min=1, help="Use only the first N queries."),
        generate: bool = typer.Option(True, "--generate/--no-generate",
                                      help="Generate with the configured backend, or use the fake one (same decisions)."),
        max_new_tokens: int = typer.Option(32, "--max-new-tokens", min=1, max=2048, help="Tokens generated per answer."),
        calibrate_flag: bool = typer.Option(False, "--calibrate", help=f"Sweep and recommend {SETTING}."),
        templates: str = typer.Option("auto", "--templates", help="auto | none | PATH to a templates YAML."),
        intent_model: Path = typer.Option(None, "--intent-model", help="Intent model folder (trained there if missing)."),
        threshold: float = typer.Option(None, "--threshold", min=0.0, max=1.0, help=f"Override {SETTING} for this run."),
        details: Path = typer.Option(None, "--details", help="Write one JSON line per query (route, cited, "
                                     "hit, score, answer, answer_similarity, defects, faithful)."),
    ) -> None:
        """Run the full answer pipeline on a KB and a query set; report grounding, answering and abstention."""
        # retrieval itself, on purpose: it measures a throw-away index of the eval KB, not the served KnowledgeBase
        from assistant.engine.backends import BackendError, resolve_backend_name
        from assistant.engine.facade import InvalidMessage
        from assistant.engine.models import ModelNotFound, resolve_embedding_model
        from assistant.engine.understanding.templates import TemplateError
        from retrieval import RetrievalError, Retriever

        docs, query_set = load_inputs(kb, queries)
        query_set = query_set[:limit] if limit else query_set
        if calibrate_flag and len({bool(q.relevant) for q in query_set}) < 2:
            fail("--calibrate needs both answerable and unanswerable (empty `relevant`) queries")
        base = build_settings()
        app_intents = base.understanding.intent_model_dir or base.data_dir / "intent-model"
        with tempfile.TemporaryDirectory(prefix="eval-answers-") as tmp_name:
            tmp = Path(tmp_name)
            templates_path, templates_label = pick_templates(templates, {d.id for d in docs}, tmp)
            if intent_model is None:
                intent_model = app_intents if (app_intents / "meta.json").exists() else tmp / "intent-model"
            settings = build_settings(**{
                "data_dir": tmp / "data", "model_cache_dir": base.cache_dir.resolve(), "database_url": "",
                "engine.backend": None if generate else "fake", "engine.max_new_tokens": max_new_tokens,
                "understanding.templates_path": templates_path, "understanding.intent_model_dir": intent_model,
                "understanding.min_retrieval_score": threshold,
            })
            try:
                retriever = Retriever.open(settings.index_dir, resolve_embedding_model(settings.retrieval.embedding_model),
                                           settings.retrieval)
                ingest = retriever.add_documents(docs, progress=True)
                embed_backend = retriever.embedder.backend
                retriever.close()
                if ingest.errors:
                    fail(f"{len(ingest.errors)} KB entries rejected, first: {ingest.errors[0][0]}: {ingest.errors[0][1]}")
                # the bars go to stderr, so they never disturb the --json last line
                outcomes = asyncio.run(run_queries(settings, query_set, progress=True,
                                                   pages={d.id: d for d in docs}))
            except InvalidMessage as exc:
                fail(f"{queries}: {exc}")
            except (ModelNotFound, RetrievalError, TemplateError, BackendError, OSError) as exc:
                fail(str(exc))
        current = settings.understanding.min_retrieval_score
        metrics = compute_metrics(outcomes)
        metrics.update(threshold=current, templates=templates_label, backend=resolve_backend_name(settings.engine.backend, settings.engine),
                       max_new_tokens=max_new_tokens if generate else None, documents=len(docs),
                       embed_backend=embed_backend)
        if calibrate_flag:
            metrics["calibration"] = calibrate(outcomes, current)
            metrics["recommended_threshold"] = metrics["calibration"]["recommended_threshold"]
        report(metrics, f"answers eval: {kb.name} ({len(docs)} docs), {queries.name} ({len(query_set)} queries, "
                        f"{metrics['answerable']} answerable), templates {templates_label}, embeddings {embed_backend}, "
                        f"{'generation ' + metrics['backend'] if generate else 'no generation (fake backend)'}")
        if details:
            details.parent.mkdir(parents=True, exist_ok=True)
            details.write_text("".join(json.dumps(asdict(o), ensure_ascii=False) + "\n" for o in outcomes),
                               encoding="utf-8")
            typer.echo(f"  per-query details -> {details}")
        if plot_path:
            plot(outcomes, metrics.get("calibration"), plot_path, f"Answers: {queries.name}")
            typer.echo(f"  plot -> {plot_path}")
        if as_json:
            print_json_last(metrics)
