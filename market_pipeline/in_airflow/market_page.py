"""The market page inside the Airflow UI: a symbol's price and volume over a chosen range, and
the pipeline's health at a glance (freshness, today's quota, Kafka lag, the latest quarantine).

`plugins/market_page.py` mounts `create_app()` on the api-server at /market and adds it to the
UI's navigation. FastAPI apps of plugins are not behind Airflow's login by default: every route
here requires an authenticated user allowed to see the website. The page reads the reporting
schema as market_reader (the `warehouse_reader` connection), never the raw tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from urllib.parse import quote

import plotly.graph_objects as go
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from market_pipeline import warehouse
from market_pipeline.in_airflow import connections
from market_pipeline.reporting.price_basis import PriceBasis
from market_pipeline.settings import READER_CONN_ID
from market_pipeline.trading_calendar import EASTERN, trading_days

# Longer ranges are drawn as daily candles: a month of 5-minute bars is ~4,000 points per series.
INTRADAY_MAX_DAYS = 10
DEFAULT_RANGE_DAYS = 5
QUARANTINE_ROWS = 10



def duration(age: timedelta | None) -> str:
    """An age as people read it: "3 d 5 h", "12 h 31 min", "4 min 10 s"."""
    if age is None:
        return "–"
    seconds = int(age.total_seconds())
    days, hours, minutes = seconds // 86400, seconds % 86400 // 3600, seconds % 3600 // 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {seconds % 60} s"


templates = Environment(loader=PackageLoader("market_pipeline"), autoescape=select_autoescape())
templates.filters["duration"] = duration


@dataclass(frozen=True)
class ChartRange:
    symbol: str
    start: date
    end: date
    basis: PriceBasis = PriceBasis.ADJUSTED

    @property
    def intraday(self) -> bool:
        return (self.end - self.start).days < INTRADAY_MAX_DAYS


def chart_range(symbols: list[dict], symbol: str | None, start: date | None, end: date | None,
                basis: PriceBasis = PriceBasis.ADJUSTED) -> ChartRange | None:
    """The range asked for, defaulting to the first symbol and the days up to its newest bar."""
    known = {row["symbol"]: row for row in symbols}
    if not known:
        return None
    if symbol not in known:
        symbol = next(iter(known))
    last_bar = known[symbol]["last_bar_utc"]
    end = end or (last_bar.astimezone(EASTERN).date() if last_bar else datetime.now(EASTERN).date())
    start = start or end - timedelta(days=DEFAULT_RANGE_DAYS)
    if start > end:
        raise HTTPException(422, f"the range starts ({start}) after it ends ({end})")
    return ChartRange(symbol, start, end, basis)


def price_rows(uri: str, chart: ChartRange) -> list[dict]:
    if chart.intraday:
        return warehouse.read(uri, "reporting_prices", {
            "symbol": chart.symbol,
            "start": datetime.combine(chart.start, time(), EASTERN),
            "end": datetime.combine(chart.end + timedelta(days=1), time(), EASTERN)})
    return warehouse.read(uri, "reporting_daily_prices", {"symbol": chart.symbol, "start": chart.start,
                                                         "end": chart.end})


def price_figure(chart: ChartRange, rows: list[dict]) -> go.Figure:
    """Candles on the chart's basis, volume below, on one time axis; on the split-adjusted basis
    the moving averages above (they are averages of adjusted closes, so they would cross a split
    in a cliff drawn over traded candles)."""
    times = [row["bar_time_et"] if chart.intraday else row["session_date"] for row in rows]

    def series(name: str) -> list:
        return [row[chart.basis.column(name)] for row in rows]

    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.72, 0.28], vertical_spacing=0.04)
    figure.add_trace(go.Candlestick(x=times, open=series("open"), high=series("high"), low=series("low"),
                                    close=series("close"), name=f"{chart.symbol} ({chart.basis.label})"),
                     row=1, col=1)
    if chart.basis is PriceBasis.ADJUSTED:
        averages = ("ma_20", "ma_50") if chart.intraday else ("ma_20d", "ma_50d", "ma_200d")
        for column in averages:
            figure.add_trace(go.Scatter(x=times, y=[r[column] for r in rows], mode="lines", line={"width": 1},
                                        name=column.replace("ma_", "MA ").replace("d", " days")
                                        if not chart.intraday else column.replace("ma_", "MA ") + " bars"),
                             row=1, col=1)
    figure.add_trace(go.Bar(x=times, y=series("volume"), name="volume", marker={"color": "#8294a5"}),
                     row=2, col=1)
    # No empty weekends, holidays or (intraday) nights between sessions.
    sessions = set(trading_days(chart.start, chart.end))
    days = (chart.start + timedelta(days=n) for n in range((chart.end - chart.start).days + 1))
    holidays = [day.isoformat() for day in days if day.weekday() < 5 and day not in sessions]
    breaks = [{"bounds": ["sat", "mon"]}, {"values": holidays}]
    if chart.intraday:
        breaks.append({"bounds": [20, 4], "pattern": "hour"})
    figure.update_xaxes(rangebreaks=breaks)
    figure.update_layout(height=560, margin={"l": 50, "r": 20, "t": 30, "b": 30}, xaxis_rangeslider_visible=False,
                         legend={"orientation": "h", "y": 1.06}, template="plotly_white")
    figure.update_yaxes(title_text=f"price (USD, {chart.basis.label})", row=1, col=1)
    figure.update_yaxes(title_text="volume", row=2, col=1)
    return figure


def render_page(uri: str, symbol: str | None, start: date | None, end: date | None,
                basis: PriceBasis = PriceBasis.ADJUSTED) -> str:
    symbols = warehouse.read(uri, "reporting_symbols")
    chart = chart_range(symbols, symbol, start, end, basis)
    figure_html = None
    if chart:
        rows = price_rows(uri, chart)
        if rows:
            figure_html = price_figure(chart, rows).to_html(full_html=False, include_plotlyjs=False,
                                                            div_id="price-chart")
    quota = warehouse.read(uri, "reporting_quota_today")
    return templates.get_template("market_page.html").render(
        symbols=[row["symbol"] for row in symbols], chart=chart, figure_html=figure_html, bases=list(PriceBasis),
        intraday_max_days=INTRADAY_MAX_DAYS,
        freshness=warehouse.read(uri, "reporting_freshness"),
        quota=quota[0] if quota else None,
        lag=warehouse.read(uri, "reporting_kafka_lag"),
        quarantine=warehouse.read(uri, "reporting_latest_quarantine", {"limit": QUARANTINE_ROWS}),
    )


@cache
def reader_uri() -> str:
    return connections.warehouse_uri(READER_CONN_ID)


def create_app() -> FastAPI:
    # Only the api-server has these; imported here so other processes loading the plugin do not pay for them.
    from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
    from airflow.api_fastapi.core_api.security import requires_access_view

    app = FastAPI(title="Market data", dependencies=[Depends(requires_access_view(AccessView.WEBSITE))])

    @app.exception_handler(HTTPException)
    async def login_first(request: Request, exc: HTTPException) -> Response:
        """A browser without a session goes to Airflow's login, then back here; anything else gets the status."""
        if exc.status_code in (401, 403) and "text/html" in request.headers.get("accept", ""):
            return RedirectResponse(f"/auth/login/?next={quote(str(request.url))}", status_code=303)
        return Response(exc.detail, status_code=exc.status_code, media_type="text/plain")

    @app.get("/", response_class=HTMLResponse)
    def market_page(symbol: str | None = None, start: date | None = None, end: date | None = None,
                    basis: PriceBasis = PriceBasis.ADJUSTED) -> str:
        return render_page(reader_uri(), symbol, start, end, basis)

    @app.get("/plotly.min.js")
    def plotly_js() -> Response:
        return Response(get_plotlyjs(), media_type="text/javascript",
                        headers={"Cache-Control": "private, max-age=86400"})

    return app
