"""Ports: a free one for a private server, and the wait until a server listens on its own."""

from __future__ import annotations

import socket
from collections.abc import Callable

from tenacity import Retrying, retry_if_not_result, stop_after_delay, wait_fixed


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def wait_for_port(host: str, port: int, seconds: float, alive: Callable[[], bool] = lambda: True) -> None:
    """Until something accepts connections on `host:port`: RuntimeError as soon as `alive()` says
    the process meant to listen has exited, TimeoutError after `seconds`."""

    def listening() -> bool:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return True
        except OSError:
            if not alive():
                raise RuntimeError(f"the process meant to listen on port {port} exited") from None
            return False

    def give_up(_state) -> None:
        raise TimeoutError(f"nothing listens on port {port} after {seconds:g} s")

    Retrying(retry=retry_if_not_result(bool), wait=wait_fixed(0.2), stop=stop_after_delay(seconds),
             retry_error_callback=give_up)(listening)
