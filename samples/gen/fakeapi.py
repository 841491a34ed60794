"""A fake provider server on 127.0.0.1 for the third-party library scenarios:
just enough of each API for the real client library to complete its calls.

  POST /api/embed              Ollama embeddings (current)  {"model","input"} -> {"embeddings": [[...]]}
  POST /api/embeddings         Ollama embeddings (legacy)   {"model","prompt"} -> {"embedding": [...]}
  POST /v1/chat/completions    OpenAI-compatible chat completion (non-streaming)
  POST /v1/embeddings          OpenAI-compatible embeddings
  POST /v1beta/models/M:generateContent  Gemini generateContent
  POST /graphql                GraphQL: answers {"data": {"prices": [...]}} to any query
  GET  /                       Elasticsearch cluster info (8.x), with X-Elastic-Product
  GET|POST /{index}/_search    Elasticsearch search result
  GET  /item/{n}               small JSON document
  PUT  /s3/{bucket}[/{key}]    S3 (path style): create a bucket, put an object
  GET  /s3/{bucket}/{key}      S3 get_object: 1000 bytes

Keep-alive is on (aiohttp.web default), so clients pool their connections.
The server runs on its own event loop in a daemon thread, so sync programs that
call asyncio.run() per request (or libraries that do) can use it too.
"""
import asyncio
import json
import threading
import time

from aiohttp import web

ES_HEADERS = {"X-Elastic-Product": "Elasticsearch"}
ES_TYPE = "application/vnd.elasticsearch+json"


def _vec(text, n=8):
    h = sum(map(ord, str(text)))
    return [round(((h * (i + 7)) % 1000) / 1000.0 - 0.5, 6) for i in range(n)]


async def ollama_embed(request):
    body = await request.json()
    inp = body.get("input", "")
    inputs = inp if isinstance(inp, list) else [inp]
    await asyncio.sleep(0.005)
    return web.json_response({"model": body.get("model", "nomic-embed-text"),
                              "embeddings": [_vec(x) for x in inputs],
                              "total_duration": 12000000, "load_duration": 1000000,
                              "prompt_eval_count": sum(len(str(x).split()) for x in inputs)})


async def ollama_embeddings(request):
    body = await request.json()
    await asyncio.sleep(0.005)
    return web.json_response({"embedding": _vec(body.get("prompt", ""))})


async def chat_completions(request):
    body = await request.json()
    await asyncio.sleep(float(request.app["chat_delay"]))
    last = (body.get("messages") or [{}])[-1].get("content", "")
    text = "ok: %s" % str(last)[:40]
    return web.json_response({
        "id": "chatcmpl-%d" % int(time.time() * 1e6),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "gpt-4o-mini"),
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                     "message": {"role": "assistant", "content": text, "refusal": None}}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 4, "total_tokens": 16},
        "system_fingerprint": "fp_local",
    })


async def gemini_generate(request):
    # Google AI Studio / Vertex generateContent: POST .../models/{model}:generateContent
    body = await request.json()
    await asyncio.sleep(float(request.app["chat_delay"]))
    parts = (body.get("contents") or [{}])[-1].get("parts") or [{}]
    return web.json_response({
        "candidates": [{"content": {"parts": [{"text": "ok: %s" % str(parts[0].get("text", ""))[:40]}],
                                    "role": "model"},
                        "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 4, "totalTokenCount": 16},
        "modelVersion": request.match_info["spec"].split(":")[0],
    })


async def openai_embeddings(request):
    body = await request.json()
    inp = body.get("input", "")
    inputs = inp if isinstance(inp, list) else [inp]
    return web.json_response({
        "object": "list", "model": body.get("model", "text-embedding-3-small"),
        "data": [{"object": "embedding", "index": i, "embedding": _vec(x)} for i, x in enumerate(inputs)],
        "usage": {"prompt_tokens": 3, "total_tokens": 3},
    })


async def graphql(request):
    body = await request.json()
    await asyncio.sleep(0.005)
    return web.json_response({"data": {"prices": [{"sku": "A-%d" % i, "price": 10 + i} for i in range(3)]},
                              "extensions": {"query_len": len(body.get("query", ""))}})


async def es_info(request):
    return web.json_response({
        "name": "es-local", "cluster_name": "docker-cluster", "cluster_uuid": "local0uuid0000000000000",
        "version": {"number": "9.1.0", "build_flavor": "default", "build_type": "docker",
                    "lucene_version": "9.11.1", "minimum_wire_compatibility_version": "7.17.0",
                    "minimum_index_compatibility_version": "7.0.0"},
        "tagline": "You Know, for Search"}, headers=ES_HEADERS, content_type=ES_TYPE)


async def es_search(request):
    await asyncio.sleep(0.005)
    index = request.match_info["index"]
    return web.json_response({
        "took": 1, "timed_out": False,
        "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
        "hits": {"total": {"value": 2, "relation": "eq"}, "max_score": 1.0,
                 "hits": [{"_index": index, "_id": str(i), "_score": 1.0,
                           "_source": {"sku": "A-%d" % i, "price": 10 + i}} for i in range(2)]}},
        headers=ES_HEADERS, content_type=ES_TYPE)


async def item(request):
    n = request.match_info.get("n", "0")
    return web.json_response({"item": n, "price": 10 + len(n)})


async def s3_put(request):
    await request.read()
    return web.Response(headers={"ETag": '"9b2cf535f27731c974343645a3985328"'})


async def s3_get(request):
    return web.Response(body=b"x" * 1000, content_type="binary/octet-stream",
                        headers={"ETag": '"9b2cf535f27731c974343645a3985328"'})


def make_app(chat_delay=0.02):
    app = web.Application()
    app["chat_delay"] = chat_delay
    app.router.add_post("/api/embed", ollama_embed)
    app.router.add_post("/api/embeddings", ollama_embeddings)
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_post("/chat/completions", chat_completions)
    app.router.add_post("/v1/embeddings", openai_embeddings)
    app.router.add_post("/v1beta/models/{spec}", gemini_generate)
    app.router.add_post("/graphql", graphql)
    app.router.add_get("/", es_info)
    app.router.add_get("/{index}/_search", es_search)
    app.router.add_post("/{index}/_search", es_search)
    app.router.add_get("/item/{n}", item)
    app.router.add_put("/s3/{bucket}", s3_put)
    app.router.add_put("/s3/{bucket}/{key}", s3_put)
    app.router.add_get("/s3/{bucket}/{key}", s3_get)
    return app


def start(chat_delay=0.02):
    """Start the fake server in a daemon thread; returns its base URL."""
    ready = threading.Event()
    box = {}

    def run():
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)

        async def go():
            runner = web.AppRunner(make_app(chat_delay), access_log=None, shutdown_timeout=0.3)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
            await site.start()
            return "http://127.0.0.1:%d" % site._server.sockets[0].getsockname()[1]

        box["url"] = loop.run_until_complete(go())
        ready.set()
        loop.run_forever()

    threading.Thread(target=run, name="fake-provider", daemon=True).start()
    ready.wait(10)
    return box["url"]


if __name__ == "__main__":
    print(start())
    time.sleep(3600)
