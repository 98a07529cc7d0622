"""The knowledge base: the configured index behind typed methods (`KnowledgeBase`), seeded on first start.

Routes and the console reach it as `Assistant.knowledge`; the CLI's `assistant kb` commands open one with
`KnowledgeBase.open(settings)`, which loads the index and the embedding model only (no chat or intent model).

On first start (an empty index) the documents at settings.kb_path, or the bundled sample
store's help centre, are ingested; later starts reuse the index on disk.

The engine never starts silently empty: when that first ingest leaves the index with no
document, start-up fails with one KnowledgeBaseError naming the path and the first reasons.
Files and FAQ rows it left out (a row with no answer, a duplicate id: "faq.jsonl:12") are
logged and recorded next to the index, so that every later start still reports them:
`KnowledgeBase.status()` gives them to /readyz and the console.

The limits of an upload (SUPPORTED_FILE_TYPES, MAX_FILE_MB, check_namespace) are the index's own,
re-exported here so that the server and the console check uploads without importing the index.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.engine.models import resolve_embedding_model
from assistant.engine.settings import Settings
from assistant.samples import KB_DIR
from retrieval.loaders import SUPPORTED as SUPPORTED_FILE_TYPES  # noqa: F401 - re-exported
from retrieval.retriever import MAX_FILE_MB  # noqa: F401 - re-exported
from retrieval.store import check_namespace  # noqa: F401 - re-exported

if TYPE_CHECKING:
    from retrieval.schema import Hit, IngestReport

log = logging.getLogger(__name__)

SAMPLE_KB = KB_DIR
STATUS_FILE = "kb_seed.json"  # in the index folder: goes with the index it describes
STORED_LEFT_OUT = 200  # entries kept in the status file (the total is always kept)
SHOWN_LEFT_OUT = 20  # entries in /readyz
_REASONS_IN_ERROR = 3


class KnowledgeBaseError(RuntimeError):
    """The knowledge base to ingest on first start gave no document; the message says which path and why."""


@dataclass(frozen=True)
class LeftOut:
    """One input the first-start ingest left out: where ("faq.jsonl:12", "guide.pdf") and why."""

    where: str
    reason: str


@dataclass(frozen=True)
class KnowledgeStatus:
    """The default knowledge base now, and what its first-start ingest left out."""

    documents: int | None  # in the index now; None when the retriever cannot say (test fakes)
    source: str | None = None  # what the first start ingested; None when it was built otherwise
    left_out: tuple[LeftOut, ...] = ()  # the first STORED_LEFT_OUT, in ingest order
    left_out_total: int = 0

    def as_dict(self, limit: int = SHOWN_LEFT_OUT) -> dict[str, Any]:
        """The /readyz shape: {"documents", "left_out": [{"where", "reason"}] (at most `limit`), "left_out_total"}."""
        return {
            "documents": self.documents,
            "left_out": [{"where": x.where, "reason": x.reason} for x in self.left_out[:limit]],
            "left_out_total": self.left_out_total,
        }


def open_retriever(settings: Settings, *, progress: bool = True, seed: bool = True, embedder: Any = None) -> Any:
    """The configured index, ingesting settings.kb_path (or the sample help centre) when it is empty.

    Raises KnowledgeBaseError when that ingest leaves the index empty. `embedder` replaces the
    configured embedding model (tests).
    """
    from retrieval import Retriever

    model = settings.retrieval.embedding_model if embedder is not None \
        else resolve_embedding_model(settings.retrieval.embedding_model)
    retriever = Retriever.open(settings.index_dir, model, settings.retrieval, embedder=embedder)
    if seed and retriever.stats("default").get("documents", 0) == 0:
        seed_knowledge_base(retriever, settings, progress=progress)
    return retriever


def seed_knowledge_base(retriever: Any, settings: Settings, *, progress: bool = True) -> KnowledgeStatus:
    """Ingest the first-start documents into the default namespace and record what was left out."""
    source = Path(settings.kb_path or SAMPLE_KB).expanduser()
    log.info("empty index: ingesting %s", source)
    report = retriever.add_paths([source], namespace="default", progress=progress)
    documents = len(retriever.snapshot("default").docs)
    left_out = [LeftOut(_short(where, source), reason) for where, reason in report.errors]
    if documents == 0:
        named = f"ASSISTANT_KB_PATH={source}" if settings.kb_path else f"the sample help centre {source}"
        reasons = "; ".join(f"{x.where}: {x.reason}" for x in left_out[:_REASONS_IN_ERROR])
        more = len(left_out) - _REASONS_IN_ERROR
        raise KnowledgeBaseError(
            f"the knowledge base at {named} gave no documents, so nothing was indexed: "
            + (reasons + (f" (and {more} more)" if more > 0 else "") if reasons else "no supported files found")
        )
    status = KnowledgeStatus(documents, str(source), tuple(left_out[:STORED_LEFT_OUT]), len(left_out))
    _write_record(settings, status)
    if left_out:
        shown = "; ".join(f"{x.where}: {x.reason}" for x in left_out[:_REASONS_IN_ERROR])
        log.warning("knowledge base %s: %d documents indexed, %d input(s) left out (listed by /readyz and "
                    "the console): %s%s", source, documents, len(left_out), shown,
                    " ..." if len(left_out) > _REASONS_IN_ERROR else "")
    return status


def knowledge_status(settings: Settings, retriever: Any) -> KnowledgeStatus:
    """Documents in the default namespace now and the inputs its first-start ingest left out."""
    from retrieval import RetrievalError

    documents: int | None = None
    if callable(getattr(retriever, "snapshot", None)):
        try:
            documents = len(retriever.snapshot("default").docs)
        except (RetrievalError, OSError) as exc:
            log.warning("knowledge base status: %s", exc)
    record = _read_record(settings)
    left_out = tuple(LeftOut(str(x.get("where", "")), str(x.get("reason", "")))
                     for x in record.get("left_out", []) if isinstance(x, dict))
    total = record.get("left_out_total")
    source = record.get("source")
    return KnowledgeStatus(documents, source if isinstance(source, str) else None, left_out,
                           total if isinstance(total, int) else len(left_out))


class KnowledgeBase:
    """The documents of every site, one namespace each: ingest, list, delete, search, statistics.

    Each method is the index's own (RetrievalError, from assistant.engine.errors, on a bad namespace name,
    query, k or mode). Routes and the console use `Assistant.knowledge`; the CLI opens its own.
    """

    def __init__(self, retriever: Any, settings: Settings) -> None:
        self._retriever = retriever
        self._settings = settings

    @classmethod
    def open(cls, settings: Settings, *, seed: bool = False, progress: bool = True,
             embedder: Any = None) -> KnowledgeBase:
        """The configured index with its embedding model, without building an Assistant (no chat or intent
        model). `seed` ingests the first-start documents into an empty index, as the server does. Raises
        ModelNotFound, RetrievalError (an index built with another embedding model) or KnowledgeBaseError."""
        return cls(open_retriever(settings, progress=progress, seed=seed, embedder=embedder), settings)

    def add_documents(self, paths: Iterable[Path], namespace: str = "default", *,
                      progress: bool = False, base_url: str | None = None) -> IngestReport:
        """Ingest files and folders (unchanged files are skipped); the report's errors list what was left out.
        `base_url`: where the folder is published; a document without a link of its own gets base_url + its
        file's id (RetrievalError when it is not an http(s) address)."""
        return self._retriever.add_paths(list(paths), namespace=namespace, progress=progress, base_url=base_url)

    def add_faq(self, doc_id: str, question: str, answer: str, namespace: str = "default",
                metadata: dict[str, Any] | None = None) -> IngestReport:
        """Add (or replace) one FAQ entry: title = the question, text = the answer, format "faq", so a turn whose
        top hit it is answers with its text (compose.faq_answer). RetrievalError when the index refuses it."""
        from retrieval import RetrievalError
        from retrieval.schema import Document

        doc = Document(id=doc_id, title=question, text=answer, metadata={**(metadata or {}), "format": "faq"})
        report = self._retriever.add_documents([doc], namespace=namespace)
        if report.errors:  # one document: nothing else went in
            raise RetrievalError("; ".join(reason for _, reason in report.errors))
        return report

    def entry_metadata(self, namespace: str = "default") -> dict[str, dict[str, Any]]:
        """Each document's metadata (an FAQ row's own fields, its format), by id; {} for a new namespace."""
        snapshot = getattr(self._retriever, "snapshot", None)
        if snapshot is None:  # a test fake without an index
            return {}
        return {doc_id: dict(entry.metadata) for doc_id, entry in snapshot(namespace).docs.items()}

    def embed(self, texts: list[str]) -> Any:
        """Unit vectors of `texts` (n, dims) from the index's own embedding model; None when it has none (fakes)."""
        encode = getattr(getattr(self._retriever, "embedder", None), "encode", None)
        return encode(texts) if encode is not None else None

    def documents(self, namespace: str = "default") -> list[dict[str, Any]]:
        """The namespace's documents, by id: {"id", "title", "source", "url", "chunks", ...}; [] for a new one."""
        return self._retriever.documents(namespace)

    def delete_document(self, doc_id: str, namespace: str = "default") -> bool:
        """Remove one document; False when the namespace holds no document with that id."""
        return self._retriever.delete(doc_id, namespace)

    def search(self, query: str, k: int = 5, namespace: str = "default",
               mode: str | None = None) -> list[Hit]:
        """The best `k` passages for `query`, best first (mode: hybrid, dense or bm25; None: the default)."""
        return self._retriever.search(query, k, namespace, mode)

    def namespaces(self) -> list[str]:
        """The namespaces that hold an index version, sorted."""
        return self._retriever.namespaces()

    def stats(self, namespace: str | None = None) -> dict[str, Any]:
        """The embedding model and, per namespace, documents, chunks, index type, version and size on disk:
        of every namespace, or of `namespace` alone (zeros for one that holds nothing yet)."""
        return self._retriever.stats(namespace)

    def status(self) -> KnowledgeStatus:
        """Documents in the default namespace and the inputs its first-start ingest left out (/readyz)."""
        return knowledge_status(self._settings, self._retriever)


def _short(where: str, source: Path) -> str:
    """A report's path ("/data/kb/faq.jsonl:12") relative to the ingested folder, or the file's own name."""
    base = source.resolve() if source.is_dir() else source.resolve().parent
    try:
        return Path(where).relative_to(base).as_posix()
    except ValueError:
        return Path(where).name if "/" in where else where


def _status_path(settings: Settings) -> Path:
    return Path(settings.index_dir) / STATUS_FILE


def _write_record(settings: Settings, status: KnowledgeStatus) -> None:
    from retrieval.store import write_atomic

    record = {
        "source": status.source,
        "ingested_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "documents": status.documents,
        "left_out": [{"where": x.where, "reason": x.reason} for x in status.left_out],
        "left_out_total": status.left_out_total,
    }
    try:
        write_atomic(_status_path(settings), json.dumps(record, indent=1))
    except OSError as exc:  # the index is fine; only the report of what was left out is lost
        log.warning("cannot record the knowledge-base ingest report in %s: %s", _status_path(settings), exc)


def _read_record(settings: Settings) -> dict[str, Any]:
    path = _status_path(settings)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("cannot read %s: %s", path, exc)
        return {}
    return record if isinstance(record, dict) else {}
