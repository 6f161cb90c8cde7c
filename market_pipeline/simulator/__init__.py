"""Local Alpha Vantage simulator: `python -m market_pipeline.simulator --help`."""

from market_pipeline.simulator.server import AlphaVantageSimulator, SimClock, SimulatorOptions, make_server

__all__ = ["AlphaVantageSimulator", "SimClock", "SimulatorOptions", "make_server"]
