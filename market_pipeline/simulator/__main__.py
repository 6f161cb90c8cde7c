"""Run the Alpha Vantage simulator as a server (bin/stack start does, on port 8765)."""

import argparse
import logging
from datetime import datetime

from market_pipeline.simulator.server import AlphaVantageSimulator, SimClock, SimulatorOptions, make_server
from market_pipeline.trading_calendar import ENTITLEMENTS


def _limit(text: str) -> int | None:
    return None if text == "none" else int(text)


def main() -> None:
    parser = argparse.ArgumentParser(description="Local stand-in for https://www.alphavantage.co/query")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--start", type=datetime.fromisoformat, default=None,
                        help="simulated start time, ISO-8601 with offset (default: now)")
    parser.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second")
    parser.add_argument("--per-second", type=_limit, default=1, help="requests per second, or 'none'")
    parser.add_argument("--per-minute", type=_limit, default=None, help="requests per minute, or 'none'")
    parser.add_argument("--per-day", type=_limit, default=25, help="requests per day, or 'none'")
    parser.add_argument("--valid-key", action="append", default=None,
                        help="accept only these keys (repeatable); default: any non-empty key")
    parser.add_argument("--premium-function", action="append", default=[],
                        help="answer this function as premium-only (repeatable)")
    parser.add_argument("--unknown-symbol", action="append", default=[],
                        help="answer this symbol as unknown (repeatable)")
    parser.add_argument("--entitlement", choices=ENTITLEMENTS, default="none",
                        help="what the keys' plan includes: none (free keys), delayed or realtime")
    args = parser.parse_args()

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    options = SimulatorOptions(
        per_second=args.per_second, per_minute=args.per_minute, per_day=args.per_day,
        valid_keys=set(args.valid_key) if args.valid_key else None,
        premium_functions=set(args.premium_function), unknown_symbols={s.upper() for s in args.unknown_symbol},
        key_entitlement=args.entitlement,
    )
    simulator = AlphaVantageSimulator(SimClock(args.start, args.speed), options)
    server = make_server(simulator, args.host, args.port)
    server.RequestHandlerClass.server_logger = staticmethod(logging.getLogger("simulator").info)
    logging.info("Alpha Vantage simulator on http://%s:%s/query", args.host, args.port)
    server.serve_forever()


if __name__ == "__main__":
    main()
