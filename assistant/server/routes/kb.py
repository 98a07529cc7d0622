"""Knowledge base of the caller's site (secret key): upload, list, delete and search its documents.

Every call is confined to the site's namespace, so one site can neither see nor change another's.
Uploads are checked (name, type, size) before anything is written; files that the loaders then
reject are listed in `errors`, and a request that ingests nothing answers 422.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from pathlib import Path as FilePath
from typing import Any

from fastapi import APIRouter, Depends, File, Form, Path, Request, Response, UploadFile

from assistant.engine.errors import RetrievalError
from assistant.engine.knowledge import MAX_FILE_MB
from assistant.engine.knowledge import SUPPORTED_FILE_TYPES as SUPPORTED
from assistant.server.auth import SecretCallerDep
from assistant.server.deps import AssistantDep, JSONBody
from assistant.server.errors import APIError
from assistant.server.ratelimit import rate_limited
from assistant.server.site_schemas import KbDocument, KbHit, KbSearchRequest, KbUploadOut

router = APIRouter(prefix="/v1/kb", tags=["knowledge base"], dependencies=[Depends(rate_limited)])
MAX_FILES = 20
SAFE_NAME = re.compile(r"^[\w][\w .()-]{0,119}$")


def require_multipart(request: Request) -> None:
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "multipart/form-data":
        raise APIError(415, "unsupported_media_type", "upload files as multipart/form-data (field 'files')")


def _check_name(name: str | None) -> str:
    base = FilePath(name or "").name
    if not base or not SAFE_NAME.match(base):
        raise APIError(400, "invalid_filename", f"file name {str(name)[:120]!r} must be letters, digits, '.', '-', '_'")
    if FilePath(base).suffix.lower() not in SUPPORTED:
        raise APIError(415, "unsupported_file_type",
                       f"{base}: unsupported file type; supported: {', '.join(SUPPORTED)}")
    return base


async def _save(upload: UploadFile, target: FilePath, max_bytes: int) -> None:
    size = 0
    with target.open("wb") as out:
        while chunk := await upload.read(1 << 20):
            size += len(chunk)
            if size > max_bytes:
                raise APIError(413, "payload_too_large", f"{target.name} is over {max_bytes / 1e6:.1f} MB")
            out.write(chunk)
    if size == 0:
        raise APIError(400, "empty_file", f"{target.name} is empty")


@router.post("/documents", response_model=KbUploadOut, dependencies=[Depends(require_multipart)],
             responses={413: {"description": "A file is too large."}, 415: {"description": "Wrong type."}})
async def upload(caller: SecretCallerDep, assistant: AssistantDep,
                 files: list[UploadFile] = File(..., description="Documents: .md .txt .html .pdf .csv .jsonl"),
                 base_url: str | None = Form(None, max_length=2000, description=(
                     "Where the files are published (https://help.example.com/): a document without a url of "
                     "its own links to base_url + its file name without the extension."))
                 ) -> Any:
    if not 1 <= len(files) <= MAX_FILES:
        raise APIError(400, "invalid_upload", f"send 1 to {MAX_FILES} files")
    names = [_check_name(f.filename) for f in files]
    if len(set(names)) != len(names):
        raise APIError(400, "invalid_upload", "two files have the same name")
    max_bytes = int(MAX_FILE_MB * 1e6)
    with tempfile.TemporaryDirectory(prefix="kb-upload-") as tmp:
        paths = [FilePath(tmp) / name for name in names]
        for upload_file, path in zip(files, paths, strict=True):
            await _save(upload_file, path, max_bytes)
        try:
            report = await asyncio.to_thread(assistant.knowledge.add_documents, paths, caller.site.namespace,
                                             base_url=base_url or None)
        except RetrievalError as exc:
            raise APIError(400, "invalid_upload", str(exc)) from exc
    body = KbUploadOut(**report.model_dump(include=set(KbUploadOut.model_fields)))
    body.errors = [(FilePath(where).name, msg) for where, msg in body.errors]
    if body.added + body.updated + body.skipped == 0:
        raise APIError(422, "nothing_ingested", "no document could be read", details=body.errors)
    return body


@router.get("/documents", response_model=list[KbDocument])
async def list_documents(caller: SecretCallerDep, assistant: AssistantDep) -> list[KbDocument]:
    docs = await asyncio.to_thread(assistant.knowledge.documents, caller.site.namespace)
    return [KbDocument(**{k: d.get(k) for k in KbDocument.model_fields}) for d in docs]


@router.delete("/documents/{doc_id:path}", status_code=204, response_class=Response)
async def delete_document(caller: SecretCallerDep, assistant: AssistantDep,
                          doc_id: str = Path(max_length=512)) -> Response:
    deleted = await asyncio.to_thread(assistant.knowledge.delete_document, doc_id, caller.site.namespace)
    if not deleted:
        raise APIError(404, "document_not_found", f"no document {doc_id[:200]!r} in this site's knowledge base")
    return Response(status_code=204)


@router.post("/search", response_model=list[KbHit], dependencies=[JSONBody])
async def search(body: KbSearchRequest, caller: SecretCallerDep, assistant: AssistantDep) -> list[KbHit]:
    try:
        hits = await asyncio.to_thread(assistant.knowledge.search, body.query, body.k, caller.site.namespace,
                                       body.mode)
    except RetrievalError as exc:
        raise APIError(400, "invalid_search", str(exc)) from exc
    return [KbHit.model_validate(h, from_attributes=True) for h in hits]
