"""Charts drawn by the server as inline SVG (no script, no library: an old office PC shows
them as it shows text). Each function gives the shapes' coordinates in a fixed viewBox; the
template draws them, and the SVG scales to the width of the page."""

from dataclasses import dataclass

WIDTH = 640
LABEL = 130
"""The room for a township's name left of its bar."""
BAR_ROOM = 320
ROW = 30


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None
    """A share from 0 to 1; None: nothing to count (no bar drawn, the row says so)."""
    caption: str
    y: int
    width: float


@dataclass(frozen=True)
class BarChart:
    bars: list[Bar]
    width: int
    height: int
    label_width: int
    bar_room: int
    target: float | None
    """A share to mark with a line across the bars (None: no mark)."""

    @property
    def target_x(self) -> float:
        return self.label_width + (self.target or 0) * self.bar_room


def bars(rows: list[tuple[str, float | None, str]], target: float | None = None) -> BarChart:
    """One horizontal bar per row (label, share, caption), in the order given."""
    drawn = [
        Bar(label, value, caption, 10 + i * ROW, round((value or 0) * BAR_ROOM, 1))
        for i, (label, value, caption) in enumerate(rows)
    ]
    return BarChart(drawn, WIDTH, 20 + len(rows) * ROW, LABEL, BAR_ROOM, target)


@dataclass(frozen=True)
class Point:
    label: str
    value: float | None
    caption: str
    x: float
    y: float | None


@dataclass(frozen=True)
class LineChart:
    points: list[Point]
    width: int
    height: int
    top: int
    bottom: int
    left: int
    grid: list[tuple[float, str]]
    """(y, label) of the 0 %, 50 % and 100 % lines."""

    @property
    def path(self) -> str:
        """The line through the points that have a value; a month without one breaks it."""
        parts, pen_down = [], False
        for p in self.points:
            if p.y is None:
                pen_down = False
                continue
            parts.append(f"{'L' if pen_down else 'M'}{p.x:.1f},{p.y:.1f}")
            pen_down = True
        return " ".join(parts)


def line(points: list[tuple[str, float | None, str]]) -> LineChart:
    """A share (0–1) for each step along the x axis (label, share, caption)."""
    top, bottom, left, right = 16, 180, 48, 16
    step = (WIDTH - left - right) / max(1, len(points) - 1) if len(points) > 1 else 0
    x0 = left if len(points) > 1 else (WIDTH + left - right) / 2

    def y(value: float | None) -> float | None:
        return None if value is None else bottom - value * (bottom - top)

    drawn = [
        Point(label, value, caption, x0 + i * step, y(value))
        for i, (label, value, caption) in enumerate(points)
    ]
    grid = [(bottom - s * (bottom - top), f"{int(s * 100)}%") for s in (0, 0.5, 1)]
    return LineChart(drawn, WIDTH, bottom + 30, top, bottom, left, grid)
