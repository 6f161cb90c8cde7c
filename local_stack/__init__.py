"""How the local stack's PostgreSQL cluster and Kafka broker are made, started and stopped.

One implementation for `bin/stack` (through `python -m local_stack`) and for the drills' private
servers (`harness.services`), so that a drill's broker or database is built like the stack's.
Settings come from the stack's environment (config/stack.env), as everything bin/stack runs.
"""
