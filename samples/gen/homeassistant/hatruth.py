"""Truth recording for the Home Assistant fixtures (imported by the custom
integrations when $UNCLOSED_HA_GEN is set; see run_ha.py).

truth.install() is called from the integrations' async_setup, on HA's event
loop thread.  Home Assistant logs the loop's exception-handler calls through
the "homeassistant" logger (homeassistant/runner.py) and prints only the
message, not the context's keys: the `connections:` list of a connector never
reaches the log, so truth.install(body_shown=False).

truth.install() turns automatic cyclic GC off (see truth.py); this module runs
gc.collect() every 2 s on the loop instead, standing in for the automatic
collections HA would get, and at EVENT_HOMEASSISTANT_FINAL_WRITE (after the
integrations dropped their objects at EVENT_HOMEASSISTANT_STOP, while logging
still runs) collects on the loop and writes the truth with truth.finish() in
an executor thread.
"""
import gc
import os
import sys
from datetime import timedelta

_GEN = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _GEN not in sys.path:
    sys.path.insert(0, _GEN)

import truth  # noqa: E402

_started = [False]


def install(hass):
    truth.install(l_loggers={"homeassistant"}, body_shown=False)
    if _started[0]:
        return
    _started[0] = True
    from homeassistant.const import EVENT_HOMEASSISTANT_FINAL_WRITE
    from homeassistant.core import callback
    from homeassistant.helpers.event import async_track_time_interval

    @callback
    def _collect(now):
        gc.collect()

    unsub = async_track_time_interval(hass, _collect, timedelta(seconds=2))

    async def _finish(event):
        unsub()
        # collect on the loop thread (the profile hook sees these __del__s) ...
        for _ in range(10):
            n = len(truth._events)
            gc.collect()
            if len(truth._events) == n:
                break
        # ... and write the file from an executor thread: open() on the loop
        # would add HA's "Detected blocking call to open" warning to the log
        await hass.async_add_executor_job(truth.finish)

    hass.bus.async_listen_once(EVENT_HOMEASSISTANT_FINAL_WRITE, _finish)
