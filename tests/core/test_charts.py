"""The shared SVG chart geometry (app/core/charts.py)."""

from app.core.charts import Frame, colour, evenly, every, every_ceil, nice_max, nice_ticks, polyline


def test_frame_scales_map_the_range_onto_the_plot_area():
    frame = Frame(640, 260, 48, 8, 8, 48)
    assert (frame.plot_w, frame.plot_h, frame.base, frame.x_end) == (584, 204, 212, 632)
    x, y = frame.x_linear(10, 20), frame.y_linear(-1, 1)
    assert (x(10), x(20), x(15)) == (48, 632, 340)
    assert (y(-1), y(1), y(0)) == (212, 8, 110)
    flat = frame.y_linear(3, 3)  # a zero span draws at the bottom instead of dividing by zero
    assert flat(3) == frame.base
    assert frame.band(4) == 146 and frame.band(0) == 584


def test_nice_max_and_ticks():
    assert [nice_max(v) for v in (0, 3, 4, 5, 9, 81, 101, 40001, 123456)] == [4, 4, 4, 8, 20, 100, 200, 50000, 130000]
    assert nice_ticks(8) == [0, 2, 4, 6, 8]
    assert nice_ticks(10, 2, low=-10) == [-10, 0, 10]


def test_strides_polyline_evenly_colour():
    assert (every(5, 10), every(100, 10), every_ceil(13, 12), every_ceil(12, 12)) == (1, 10, 2, 1)
    assert polyline([(1, 2.25), (3.14159, 4)]) == "1.0,2.2 3.1,4.0"
    assert evenly(list(range(10)), 20) == list(range(10))
    picked = evenly(list(range(1001)), 11)
    assert picked == list(range(0, 1001, 100))
    assert colour(0) == "#c83c32" and colour(1) == "#289650"
