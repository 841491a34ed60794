# Hand-written shape: `import aiohttp as ah` (aliases seen in application code).
import aiohttp as ah


async def leak(url):
    s = ah.ClientSession()  # expect: per_call
    return (await s.get(url)).status


async def fine(url):
    async with ah.ClientSession() as s:  # expect: ok
        return (await s.get(url)).status
