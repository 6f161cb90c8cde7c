"""Fixtures of the integration tests that drive the DAGs in sandboxes."""

from __future__ import annotations

from contextlib import ExitStack

import pytest

from harness.sandbox import free_tier_key, sandbox


@pytest.fixture(scope="module")
def free_tier_sandbox(api, kafka_bootstrap, test_warehouse_uri):
    """Opens sandboxes on a free-tier key (the module's `api` fixture, the test stack's Kafka and
    the tests' warehouse) and closes them when the module is done:
    `free_tier_sandbox(entitlement, start=..., **config_changes)`."""
    with ExitStack() as opened:
        def open_sandbox(entitlement: str, **arguments):
            return opened.enter_context(sandbox(api, kafka_bootstrap, test_warehouse_uri,
                                                options=free_tier_key(entitlement), entitlement=entitlement,
                                                **arguments))
        yield open_sandbox
