"""The overview's SVG geometry (app/ops/charts.py), computed by hand on small series."""

from app.ops import charts


def test_a_sparkline_puts_both_lines_on_the_totals_scale():
    spark = charts.sparkline([0, 2, 4], [0, 1, 0])
    # plot 118 x 24 from (1, 2): x = 1 + i / 2 * 118, y = 2 + (1 - v / 4) * 24
    assert spark["total"] == "1.0,26.0 60.0,14.0 119.0,2.0"
    assert spark["bad"] == "1.0,26.0 60.0,20.0 119.0,26.0"


def test_a_single_bucket_is_a_flat_line_and_an_empty_series_lies_on_the_axis():
    spark = charts.sparkline([3], [1])
    assert spark["total"] == "1.0,2.0 119.0,2.0" and spark["bad"] == "1.0,18.0 119.0,18.0"
    assert charts.sparkline([0, 0], [0, 0])["total"] == "1.0,26.0 119.0,26.0"


def test_bars_stand_on_a_rounded_axis_with_the_failures_in_front():
    chart = charts.bars([10, 0], [5, 0], ["11-01", "11-08"])
    assert chart["max"] == 20  # 10 rounded up to 4 steps of 5
    first, empty = chart["bars"]
    # plot 588 x 136 from (40, 10), base 146; two slots of 294
    assert (first["x"], first["w"]) == (69.4, 235.2)
    assert (first["total_y"], first["total_h"], first["bad_y"], first["bad_h"]) == (78.0, 68.0, 112.0, 34.0)
    assert (empty["total_h"], empty["bad_h"]) == (0.0, 0.0)
    assert [b["label"] for b in chart["bars"]] == ["11-01", "11-08"]


def test_at_most_eight_labels_on_ninety_daily_buckets():
    chart = charts.bars([1] * 90, [0] * 90, [str(i) for i in range(90)])
    assert sum(1 for b in chart["bars"] if b["label"]) <= 8
