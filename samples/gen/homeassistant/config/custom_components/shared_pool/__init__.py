"""Shared pool: one TCPConnector shared by per-poll sessions (connector_owner=False).

Neither the sessions nor the connector are ever closed.  Each session reports
alone (it owns no pool); the connector reports its pool once, when it is
dropped at shutdown.
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

DOMAIN = "shared_pool"
_LOGGER = logging.getLogger(__name__)

if os.environ.get("UNCLOSED_HA_GEN"):  # fixture runs: record the truth (samples/gen/homeassistant)
    sys.path.insert(0, os.environ["UNCLOSED_HA_GEN"])
    import hatruth
else:
    hatruth = None


async def async_setup(hass: HomeAssistant, config: dict) -> bool:
    if hatruth:
        hatruth.install(hass)
    url = config[DOMAIN]["url"]
    hass.data[DOMAIN] = aiohttp.TCPConnector(limit=20)

    async def _poll(now) -> None:
        session = aiohttp.ClientSession(connector=hass.data[DOMAIN], connector_owner=False)

        async def one() -> int:
            async with session.get(url) as resp:
                await resp.read()
                return resp.status

        statuses = await asyncio.gather(*(one() for _ in range(3)))
        _LOGGER.debug("shared pool poll: %s", statuses)

    unsub = async_track_time_interval(hass, _poll, timedelta(seconds=2))

    @callback
    def _stop(event) -> None:
        unsub()
        hass.data.pop(DOMAIN, None)  # dropped, never closed

    hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, _stop)
    return True
