"""WebSocket clients for the fan-out benchmark, run in their own process: ``count`` clients
connect to ``url`` with ``token``, subscribe to ``orders``, and count the event messages each
receives from the moment all are subscribed until ``seconds`` have passed. Prints one JSON
object: messages received in total and per client."""

from __future__ import annotations

import asyncio
import json
import sys
import time

from websockets.asyncio.client import connect


async def _client(url: str, token: str, ready: asyncio.Barrier, counts: list[int], i: int,
                  until: list[float]) -> None:  # fmt: skip
    async with connect(url, additional_headers={"Authorization": f"Bearer {token}"},
                       max_queue=None) as ws:  # fmt: skip
        await ws.send(json.dumps({"op": "subscribe", "channels": ["orders"]}))
        while json.loads(await ws.recv()).get("type") != "subscribed":
            pass
        await ready.wait()
        while True:
            remaining = until[0] - time.monotonic()
            if remaining <= 0:
                return
            try:
                async with asyncio.timeout(remaining):
                    message = await ws.recv()
            except TimeoutError:
                return
            if '"type":"event"' in message.replace(" ", ""):
                counts[i] += 1


async def main(url: str, token: str, count: int, seconds: float) -> None:
    ready = asyncio.Barrier(count + 1)
    counts = [0] * count
    until = [float("inf")]
    tasks = [asyncio.create_task(_client(url, token, ready, counts, i, until))
             for i in range(count)]  # fmt: skip
    async with asyncio.timeout(60):
        await ready.wait()
    print(json.dumps({"subscribed": count}), flush=True)
    until[0] = time.monotonic() + seconds
    await asyncio.gather(*tasks)
    print(json.dumps({"messages": sum(counts), "per_client_min": min(counts),
                      "per_client_max": max(counts), "seconds": seconds}), flush=True)  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])))
