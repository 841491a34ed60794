"""Tests that leak aiohttp sessions in different ways, for what `unclosed run` says of each test.

TRUTH is what each test really leaks: the sessions it leaves unclosed and the pooled connections
each one's connector holds when it is dropped (checked here, while the test runs). Each leaking
test creates its sessions on one line, marked by a `sessions of TEST` comment. Servers are local
(127.0.0.1, localserver.py). test_two_sessions_then_fails fails, so pytest shows its captured
log; the others pass, so pytest shows their warnings only in its warnings summary.
"""
import asyncio
import json

import aiohttp

from localserver import serve

TRUTH = json.loads(
    """
{
  "test_five_sessions": {"sessions": 5, "pooled_each": 1},
  "test_idle_session": {"sessions": 1, "pooled_each": 0},
  "test_two_sessions_then_fails": {"sessions": 2, "pooled_each": 1},
  "test_closes_its_session": {"sessions": 0, "pooled_each": 0}
}
"""
)


def pooled(session):
    return sum(len(conns) for conns in session.connector._conns.values())


async def fetch_and_drop(url, test):
    if test == "test_five_sessions":
        session = aiohttp.ClientSession()  # sessions of test_five_sessions
    else:
        session = aiohttp.ClientSession()  # sessions of test_two_sessions_then_fails
    async with session.get(url) as resp:
        await resp.text()
    assert pooled(session) == TRUTH[test]["pooled_each"]


async def leak(test):
    url, stop = await serve("ok")
    for _ in range(TRUTH[test]["sessions"]):
        await fetch_and_drop(url, test)
    await stop()


def test_five_sessions():
    asyncio.run(leak("test_five_sessions"))


def test_idle_session():
    async def idle():
        session = aiohttp.ClientSession()  # sessions of test_idle_session
        assert pooled(session) == TRUTH["test_idle_session"]["pooled_each"]

    asyncio.run(idle())


def test_two_sessions_then_fails():
    asyncio.run(leak("test_two_sessions_then_fails"))
    assert False, "fails, so pytest shows its captured log"


def test_closes_its_session():
    async def closes():
        url, stop = await serve("ok")
        async with aiohttp.ClientSession() as session:
            async with session.get(url) as resp:
                await resp.text()
        await stop()

    asyncio.run(closes())
