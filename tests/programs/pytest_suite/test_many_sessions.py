"""A test that leaks more sessions than `unclosed run` holds for their late connectors (32 per
stream), then fails, so pytest shows its captured log: each session there, with its creation
traceback; their connectors come at exit. TRUTH is what the test really leaks (checked here,
while it runs): every session held a pooled connection, so none of them is idle. Servers are
local (127.0.0.1, localserver.py).
"""
import asyncio
import json

import aiohttp

from localserver import serve

TRUTH = json.loads(
    """
{
  "test_forty_sessions_then_fails": {"sessions": 40, "pooled_each": 1}
}
"""
)


async def leak():
    url, stop = await serve("ok")
    for _ in range(TRUTH["test_forty_sessions_then_fails"]["sessions"]):
        session = aiohttp.ClientSession()  # sessions of test_forty_sessions_then_fails
        async with session.get(url) as resp:
            await resp.text()
        pooled = sum(len(c) for c in session.connector._conns.values())
        assert pooled == TRUTH["test_forty_sessions_then_fails"]["pooled_each"]
    await stop()


def test_forty_sessions_then_fails():
    asyncio.run(leak())
    assert False, "fails, so pytest shows its captured log"
