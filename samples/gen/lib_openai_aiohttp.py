"""openai's aiohttp backend (`openai[aiohttp]`, httpx-aiohttp): an AsyncOpenAI
client with `http_client=DefaultAioHttpClient()` created per call and never
closed (no `await client.close()`).  httpx-aiohttp's transport builds the
session lazily on the first request (`AiohttpTransport.get_client`,
httpx_aiohttp/transport.py): `connector = aiohttp.TCPConnector(...)` a few
statements before `return ClientSession(connector=connector)`.
Local fake OpenAI: fakeapi.py POST /v1/chat/completions."""
import asyncio
import gc
import logging

import truth
truth.install()

import common
import fakeapi
from openai import AsyncOpenAI, DefaultAioHttpClient

log = logging.getLogger("app.assistant")


async def answer(base_url, question):
    client = AsyncOpenAI(base_url=base_url, api_key="sk-local", http_client=DefaultAioHttpClient())
    completion = await client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": question}],
    )
    return completion.choices[0].message.content


async def main():
    base_url = fakeapi.start() + "/v1"
    answers = await asyncio.gather(*(answer(base_url, "question %d" % i) for i in range(3)))
    log.info("answers: %s", answers)
    gc.collect()
    await answer(base_url, "one more")
    gc.collect()


if __name__ == "__main__":
    common.setup_logging()
    common.run(main())
    gc.collect()
    truth.finish()
