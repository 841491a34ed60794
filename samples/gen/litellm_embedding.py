"""LiteLLM #11657: `litellm.embedding(model="ollama/...")` called once per
document from sync code, and `asyncio.run(litellm.aembedding(...))` once per
query.  LiteLLM's sync Ollama embedding runs `asyncio.run(ollama_aembeddings(...))`
internally, so every call gets a new event loop.  The module-level async
client's aiohttp transport then finds its session bound to a closed loop and
builds a new one from its factory lambda (`client=lambda: ClientSession(` /
`connector=TCPConnector(` in http_handler.py), dropping the old session
unclosed with its pooled keep-alive connection.

The provider is a local fake Ollama (fakeapi.py, POST /api/embed).  The last
session is still held by litellm.module_level_aclient when the program ends; it
is finalized at interpreter exit (the truth, written at exit after LiteLLM's
own atexit handlers, predicts it; verify.py checks that the log printed it).
"""
import asyncio
import atexit
import gc
import logging

import truth
truth.install()
# written after LiteLLM's own atexit cleanup (registered later, runs first)
atexit.register(truth.finish, include_alive=True)

import common
import fakeapi
import litellm

log = logging.getLogger("app.indexer")

DOCS = [
    "Invoices are due 30 days after delivery.",
    "Refunds are processed within five business days.",
    "Support is available Monday to Friday.",
    "Prices include VAT unless stated otherwise.",
]
QUERIES = ["when are invoices due?", "how long do refunds take?"]


def embed_documents(api_base, docs):
    vectors = []
    for doc in docs:
        resp = litellm.embedding(model="ollama/nomic-embed-text", input=[doc], api_base=api_base)
        vectors.append(resp.data[0]["embedding"])
        log.info("embedded %d chars -> %d dims", len(doc), len(vectors[-1]))
    return vectors


async def embed_query(api_base, text):
    resp = await litellm.aembedding(model="ollama/nomic-embed-text", input=[text], api_base=api_base)
    return resp.data[0]["embedding"]


def main():
    api_base = fakeapi.start()
    log.info("indexing %d documents with ollama/nomic-embed-text at %s", len(DOCS), api_base)
    embed_documents(api_base, DOCS)
    gc.collect()
    for q in QUERIES:
        vec = asyncio.run(embed_query(api_base, q))
        log.info("query %r -> %d dims", q, len(vec))
    gc.collect()
    log.info("done")


if __name__ == "__main__":
    common.setup_logging()
    main()
    gc.collect()
