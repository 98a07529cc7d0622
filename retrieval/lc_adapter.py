"""LangChain adapter: a `BaseRetriever` over a Retriever, for use in LangChain chains.

from retrieval.lc_adapter import KnowledgeBaseRetriever
lc = KnowledgeBaseRetriever(retriever=r, k=4, namespace="default")
docs = lc.invoke("how do I return shoes?")   # langchain_core Documents, hit fields in metadata
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict


class KnowledgeBaseRetriever(BaseRetriever):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: Any
    k: int = 4
    namespace: str = "default"
    mode: str | None = None
    min_score: float = 0.0

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[LCDocument]:
        hits = self.retriever.search(query, k=self.k, namespace=self.namespace, mode=self.mode)
        return [
            LCDocument(
                page_content=hit.text,
                id=hit.chunk_id,
                metadata={**hit.metadata, **hit.model_dump(exclude={"text", "metadata"})},
            )
            for hit in hits
            if hit.score >= self.min_score
        ]
