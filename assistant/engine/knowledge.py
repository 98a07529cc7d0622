"""Opens the knowledge base for the engine: the configured index, seeded with the sample help centre.

On first start (an empty index) the documents at settings.kb_path, or the bundled sample
store's help centre, are ingested; later starts reuse the index on disk.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from assistant.engine.models import resolve_embedding_model
from assistant.engine.settings import Settings
from assistant.samples import KB_DIR

log = logging.getLogger(__name__)

SAMPLE_KB = KB_DIR


def open_retriever(settings: Settings, *, progress: bool = True, seed: bool = True) -> Any:
    from retrieval import Retriever

    retriever = Retriever.open(
        settings.index_dir, resolve_embedding_model(settings.retrieval.embedding_model), settings.retrieval
    )
    if seed and retriever.stats("default").get("documents", 0) == 0:
        source = settings.kb_path or SAMPLE_KB
        log.info("empty index: ingesting %s", source)
        report = retriever.add_paths([Path(source)], namespace="default", progress=progress)
        if report.errors:
            log.warning("ingest errors: %s", report.errors)
    return retriever
