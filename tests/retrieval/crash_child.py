"""Child process for test_crash.py: ingests batches forever (or pauses mid-write) until killed with -9.

python -m tests.retrieval.crash_child INDEX_DIR random|pause-in-save|pause-before-current
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from retrieval import Document, RetrievalConfig, Retriever
from retrieval import snapshot as snapshot_module
from retrieval import store as store_module
from tests.retrieval.conftest import HashingEmbedder

BATCH = 200


def main() -> None:
    index_dir, mode = Path(sys.argv[1]), sys.argv[2]
    retriever = Retriever.open(index_dir, "hashing-test", RetrievalConfig(), embedder=HashingEmbedder())
    start = retriever.stats("default")["documents"] // BATCH
    if mode == "pause-in-save":
        original_save = snapshot_module.Snapshot.save

        def slow_save(self, folder: Path) -> None:
            original_save(self, folder)
            (folder / "vectors.npy").write_bytes(b"half-written")  # as if killed mid-file
            print("PAUSED", flush=True)
            time.sleep(60)

        snapshot_module.Snapshot.save = slow_save
    elif mode == "pause-before-current":
        original_write = store_module.write_atomic

        def slow_write(path: Path, text: str) -> None:
            if path.name == "CURRENT":
                print("PAUSED", flush=True)
                time.sleep(60)
            original_write(path, text)

        store_module.write_atomic = slow_write
    batch = start
    while True:
        docs = [
            Document(id=f"b{batch}-{j}", title=f"note {j}", text=f"batch {batch} note {j} about parcels")
            for j in range(BATCH)
        ]
        retriever.add_documents(docs)
        print(f"COMMITTED {batch}", flush=True)
        batch += 1


if __name__ == "__main__":
    main()
