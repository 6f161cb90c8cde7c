"""Adds the market page (market_pipeline.in_airflow.market_page) to the Airflow UI: its FastAPI app on the
api-server at /market, and a "Market data" entry in the navigation that shows it."""

from airflow.plugins_manager import AirflowPlugin

URL_PREFIX = "/market"


class BuiltOnFirstRequest:
    """An ASGI app that imports and builds the page's app when the first request comes: every
    task process loads the plugins, and none of them should pay for plotly and the api-server's
    security modules (about 2 s)."""

    def __init__(self) -> None:
        self.app = None

    async def __call__(self, scope, receive, send) -> None:
        if self.app is None:
            from market_pipeline.in_airflow.market_page import create_app

            self.app = create_app()
        await self.app(scope, receive, send)


class MarketPagePlugin(AirflowPlugin):
    name = "market_page"
    fastapi_apps = [{"app": BuiltOnFirstRequest(), "url_prefix": URL_PREFIX, "name": "Market data"}]
    external_views = [
        {"name": "Market data", "href": f"{URL_PREFIX}/", "destination": "nav", "url_route": "market-data"},
    ]
