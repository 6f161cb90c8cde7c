"""local_stack's wait for a server's port, without servers."""

import socket

import pytest

from local_stack.ports import free_port, wait_for_port


def test_the_wait_returns_once_the_port_listens():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        wait_for_port("127.0.0.1", server.getsockname()[1], 5)


def test_the_wait_ends_at_once_when_the_process_meant_to_listen_has_exited():
    with pytest.raises(RuntimeError, match="exited"):
        wait_for_port("127.0.0.1", free_port(), 60, alive=lambda: False)


def test_the_wait_gives_up_after_its_seconds():
    with pytest.raises(TimeoutError, match="after 0.5 s"):
        wait_for_port("127.0.0.1", free_port(), 0.5)

