"""The PNG export's drawing, without a warehouse: which closes it draws and how it names them."""

from datetime import datetime
from decimal import Decimal

from market_pipeline.reporting.chart_export import closes_figure
from market_pipeline.reporting.price_basis import PriceBasis

# TSLA's last two bars before its 5-for-1 split of 2020-08-31 and its first after.
ROWS = [{"symbol": "TSLA", "bar_time_et": datetime(2020, 8, 28, 19, 50), "close": Decimal("2210.5"),
         "close_adj": Decimal("442.1")},
        {"symbol": "TSLA", "bar_time_et": datetime(2020, 8, 28, 19, 55), "close": Decimal("2212"),
         "close_adj": Decimal("442.4")},
        {"symbol": "TSLA", "bar_time_et": datetime(2020, 8, 31, 4, 0), "close": Decimal("444.0"),
         "close_adj": Decimal("444.0")}]


def test_by_default_the_split_adjusted_closes_are_drawn_and_named():
    figure, drawn = closes_figure(ROWS, [PriceBasis.ADJUSTED])
    ax = figure.axes[0]
    assert [list(line.get_ydata()) for line in ax.get_lines()] == [[442.1, 442.4, 444.0]]
    assert ax.get_title(loc="left") == ("TSLA: last close 444 split-adjusted to the latest basis, "
                                        "at 2020-08-31 04:00 US/Eastern")
    assert ax.get_yscale() == "linear" and ax.get_legend() is None
    assert [tick.get_text() for tick in ax.get_xticklabels()] == ["Fri 28 Aug", "Mon 31 Aug"]
    assert drawn == {"TSLA": (2, 3)}


def test_both_bases_are_two_named_lines_on_a_log_scale():
    figure, _ = closes_figure(ROWS, [PriceBasis.TRADED, PriceBasis.ADJUSTED])
    ax = figure.axes[0]
    assert [list(line.get_ydata()) for line in ax.get_lines()] == [[2210.5, 2212.0, 444.0], [442.1, 442.4, 444.0]]
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["as traded",
                                                                        "split-adjusted to the latest basis"]
    assert ax.get_yscale() == "log"
    assert "last close 444 as traded, 444 split-adjusted to the latest basis" in ax.get_title(loc="left")
