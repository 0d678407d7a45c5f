"""Echo server on Python websockets (10.x): the peer that closes eagerly.

It answers a close frame at once and drops echoes it still had queued,
which RFC 6455 section 5.5.1 allows. Prints "PORT <n>" once listening and
serves until its stdin closes.
"""
import asyncio
import sys

import websockets


async def echo(ws, path=None):
    try:
        async for message in ws:
            await ws.send(message)
    except websockets.ConnectionClosed:
        pass


async def main():
    async with websockets.serve(echo, "127.0.0.1", 0, max_size=None) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"PORT {port}", flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)


asyncio.run(main())
