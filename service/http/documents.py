"""The live archive: add, replace and delete articles through the API, each write a new index version.

A write cleans and chunks the articles as `newsqa index` does and embeds them into one new
segment, written under a hidden name before any lock is taken; then, holding the writer lock, it
marks the documents it replaces or deletes as deleted and writes a new version naming that
segment beside the ones before (indexer/build.py: append_documents): durable before the
response, and served from the next request on. Its cost grows with the articles written, not
with the archive.
"""

from __future__ import annotations

import datetime
import shutil
from dataclasses import replace

from fastapi import APIRouter, Depends, Response

from indexer.build import API_SOURCE
from indexer.clean import Document, clean
from indexer.dates import RECEIVED
from indexer.errors import NewsqaError, SourceError
from indexer.sources import RawArticle
from service.core.errors import DocumentNotFoundError
from service.core.index import Index
from service.http.reload import ConflictError, Reloader, ReloaderDep, version_of
from service.http.schemas import (
    ADMIN_ONLY,
    CONFLICT,
    INVALID,
    NOT_FOUND,
    TOO_LARGE,
    UNAVAILABLE,
    UNREADABLE,
    ArticleRequest,
    BatchItem,
    BatchRequest,
    BatchWritten,
    DocumentDeleted,
    DocumentWritten,
)
from service.http.security import require_admin


class ArticleError(NewsqaError):
    """A posted article cannot be stored: nothing is left of its text after cleaning."""


def clean_article(article: ArticleRequest) -> Document:
    """The stored form of a posted article, cleaned exactly as an indexed file is; with no date
    in its fields, URL or first lines it is dated the day it arrived (UTC)."""
    raw = RawArticle(
        doc_id=article.id,
        text=article.text,
        source=API_SOURCE,
        title=article.title,
        url=article.url,
        date=article.date,
        language=article.language,
        site=article.site,
        fallback_date=(datetime.datetime.now(datetime.UTC).date().isoformat(), RECEIVED),
    )
    try:
        return clean(raw)
    except SourceError:
        raise ArticleError(f"text: nothing is left of article {article.id!r} after cleaning") from None


def put_documents(reloader: Reloader, documents: list[Document]) -> tuple[Index, list[bool]]:
    """Add or replace `documents` in one new version and serve it; returns the index and, for
    each document, whether it is new. Writing what is already stored makes no new version."""
    served = reloader.index
    if served is not None:
        documents = [_as_received(served.documents.get(d.doc_id), d) for d in documents]
    if served is None or all(served.documents.get(d.doc_id) == d for d in documents):
        prepared = None  # no index to write to, or most likely stored already: checked below
    else:
        prepared = reloader.prepare(documents)  # the embedding, before any lock is taken
    try:
        with reloader.writing():
            base = reloader.latest()
            stored = base.documents
            created = [document.doc_id not in stored for document in documents]
            if all(stored.get(document.doc_id) == document for document in documents):
                return base, created
            index = reloader.write(documents, prepared=prepared)
            prepared = None  # named by the version now
            return index, created
    finally:
        if prepared is not None:  # not written after all: an identical article, or a failure
            shutil.rmtree(prepared.path, ignore_errors=True)


def _as_received(stored: Document | None, document: Document) -> Document:
    """`document`, dated as `stored` when both are dated by their arrival: an article posted
    again unchanged, on another day, is still what is stored."""
    if stored is not None and stored.date_source == document.date_source == RECEIVED:
        return replace(document, date=stored.date)
    return document


def delete_document(reloader: Reloader, doc_id: str) -> Index:
    """Remove one document in a new version and serve it."""
    with reloader.writing():
        base = reloader.latest()
        if doc_id not in base.documents:
            raise DocumentNotFoundError(f"unknown document id {doc_id!r}")
        if len(base.documents) == 1:
            raise ConflictError(f"{doc_id!r} is the last document: an index needs at least one")
        return reloader.write([], removed=[doc_id])


router = APIRouter(dependencies=[Depends(require_admin)], tags=["archive"])


@router.post(
    "/documents",
    status_code=201,
    response_model=DocumentWritten,
    response_description="The article was added.",
    responses={
        200: {"model": DocumentWritten, "description": "An article with this id was replaced."},
        **UNREADABLE,
        **TOO_LARGE,
        **ADMIN_ONLY,
        **INVALID,
        **UNAVAILABLE,
    },
)
def put_document(article: ArticleRequest, reloader: ReloaderDep, response: Response) -> DocumentWritten:
    """Add an article, or replace the one with its id; the next query sees it.

    The article is cleaned and chunked like an indexed file and stored in a new index version
    before the response. Ids: 1-200 of `A-Z a-z 0-9 _ . : @ + -`, starting with a letter, digit or `_`.
    """
    document = clean_article(article)
    index, (created,) = put_documents(reloader, [document])
    response.status_code = 201 if created else 200
    return DocumentWritten(
        doc_id=document.doc_id,
        title=document.title,
        language=document.language,
        passages=index.passages_of(document.doc_id),
        version=version_of(index),
    )


@router.post(
    "/documents/batch",
    response_model=BatchWritten,
    responses={**UNREADABLE, **TOO_LARGE, **ADMIN_ONLY, **INVALID, **UNAVAILABLE},
)
def put_batch(body: BatchRequest, reloader: ReloaderDep) -> BatchWritten:
    """Add or replace up to 100 articles in one new index version: all of them or none."""
    documents = [clean_article(article) for article in body.documents]
    index, created = put_documents(reloader, documents)
    return BatchWritten(
        version=version_of(index),
        documents=[
            BatchItem(
                doc_id=document.doc_id,
                title=document.title,
                language=document.language,
                passages=index.passages_of(document.doc_id),
                created=new,
            )
            for document, new in zip(documents, created, strict=True)
        ],
    )


@router.delete(
    "/documents/{doc_id:path}",
    response_model=DocumentDeleted,
    responses={**ADMIN_ONLY, **NOT_FOUND, **CONFLICT, **INVALID, **UNAVAILABLE},
)
def remove_document(doc_id: str, reloader: ReloaderDep) -> DocumentDeleted:
    """Delete an article; the next query no longer finds it."""
    index = delete_document(reloader, doc_id)
    return DocumentDeleted(doc_id=doc_id, version=version_of(index))
