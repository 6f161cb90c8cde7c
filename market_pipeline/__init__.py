"""Shared logic of the market data pipeline.

DAG files, the Spark job and the command line all call into this package, so
each piece of logic exists once and is tested without a scheduler.
"""
