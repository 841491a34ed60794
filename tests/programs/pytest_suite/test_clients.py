"""A client class whose repr names its server, not its address: pytest's warnings summary then
prints the same warning text for many tests once, under all their ids, or under
`test_clients.py: 12 warnings` from ten on.

TRUTH: each test leaves one idle session (no request made, nothing pooled) unclosed, created on
the line marked by a `sessions of …` comment.
"""
import asyncio
import json

import aiohttp
import pytest

TRUTH = json.loads('{"test_many": {"tests": 12, "sessions_each": 1}, "test_few": {"tests": 3, "sessions_each": 1}}')


class PriceClient(aiohttp.ClientSession):
    def __repr__(self):
        return f"<PriceClient {self._base_url}>"


def leave_one_open(base_url):
    async def idle():
        PriceClient(base_url=base_url)  # sessions of test_many, test_few

    asyncio.run(idle())


@pytest.mark.parametrize("n", range(TRUTH["test_many"]["tests"]))
def test_many(n):
    leave_one_open("http://127.0.0.1:9/")


@pytest.mark.parametrize("n", range(TRUTH["test_few"]["tests"]))
def test_few(n):
    leave_one_open("http://127.0.0.1:8/")
