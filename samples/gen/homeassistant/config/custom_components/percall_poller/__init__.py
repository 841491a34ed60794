"""Per-call poller: a new aiohttp.ClientSession for every poll, never closed.

The mistake: instead of homeassistant.helpers.aiohttp_client.async_get_clientsession
(or closing its own session), every poll builds a session and drops it.  Each
dropped session leaks its connector with the pooled keep-alive connection(s).
"""
from datetime import timedelta
import asyncio
import logging
import os
import sys

import aiohttp

from homeassistant.core import HomeAssistant, callback
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.helpers.event import async_track_time_interval

DOMAIN = "percall_poller"
_LOGGER = logging.getLogger(__name__)

if os.environ.get("UNCLOSED_HA_GEN"):  # fixture runs: record the truth (samples/gen/homeassistant)
    sys.path.insert(0, os.environ["UNCLOSED_HA_GEN"])
    import hatruth
else:
    hatruth = None


async def _fetch(url: str, requests: int) -> list[int]:
    session = aiohttp.ClientSession()

    async def one() -> int:
        async with session.get(url) as resp:
            await resp.json()
            return resp.status

    return await asyncio.gather(*(one() for _ in range(requests)))


async def async_setup(hass: HomeAssistant, config: dict) -> bool:
    if hatruth:
        hatruth.install(hass)
    url = config[DOMAIN]["url"]
    polls = [0]

    async def _poll(now) -> None:
        polls[0] += 1
        # every third poll asks twice at once: 2 pooled connections
        statuses = await _fetch(url, 2 if polls[0] % 3 == 0 else 1)
        _LOGGER.debug("poll %d: %s", polls[0], statuses)

    unsub = async_track_time_interval(hass, _poll, timedelta(seconds=1))

    @callback
    def _stop(event) -> None:
        unsub()

    hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, _stop)
    return True
