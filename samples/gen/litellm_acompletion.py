"""LiteLLM #13251: ~concurrent `acompletion` calls limited by
`asyncio.Semaphore(20)` and gathered, run once with `asyncio.run(process_batch())`,
as in the issue (there Vertex AI Gemini; here `gemini/gemini-2.5-flash` with
`api_base` pointing at a local fake generateContent endpoint, fakeapi.py).

All calls go through LiteLLM's cached async HTTP client, whose aiohttp session
is built lazily by the factory lambda in http_handler.py (`client=lambda:
ClientSession(` with `connector=TCPConnector(` on the next line).  Nobody closes
it: when the program ends, the session and its connector with up to 20 pooled
keep-alive connections are finalized unclosed at interpreter exit.  LiteLLM
versions that register an atexit cleanup close it first, and print nothing.

The truth is written from an atexit handler registered before LiteLLM is
imported, so it runs after LiteLLM's own atexit cleanup (if any); objects
still alive then are predicted (truth.finish(include_alive=True)) and
verify.py checks that the log printed them.
"""
import asyncio
import atexit
import gc
import logging

import truth
truth.install()
atexit.register(truth.finish, include_alive=True)

import common
import fakeapi
from litellm import acompletion

log = logging.getLogger("app.batch")

prompts = ["Summarise support ticket #%d in one sentence." % i for i in range(60)]


async def process_batch(api_base):
    semaphore = asyncio.Semaphore(20)

    async def process_single(prompt):
        async with semaphore:
            return await acompletion(
                model="gemini/gemini-2.5-flash",
                messages=[
                    {"role": "system", "content": "You are a helpful assistant"},
                    {"role": "user", "content": prompt}
                ],
                temperature=0.0,
                api_base=api_base,
                api_key="local-test-key",
            )

    tasks = [process_single(prompt) for prompt in prompts]
    results = await asyncio.gather(*tasks)
    return results


if __name__ == "__main__":
    common.setup_logging()
    api_base = fakeapi.start(chat_delay=0.05) + "/v1beta/models/gemini-2.5-flash"
    results = asyncio.run(process_batch(api_base))
    log.info("processed %d prompts", len(results))
    gc.collect()
