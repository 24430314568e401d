"""Serve plotly's JS bundle from the plotly wheel itself, as vendor/plotly/plotly.min.js.

pip brings it with the Python package, so there is no CDN and no npm step; only this
one file of the package is exposed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

PREFIX = "vendor/plotly"
FILENAME = "plotly.min.js"


def _package_dir() -> Path:
    import plotly

    return Path(plotly.__file__).parent / "package_data"


class PlotlyFinder(BaseFinder):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.storage = FileSystemStorage(location=str(_package_dir()))
        self.storage.prefix = PREFIX  # type: ignore[attr-defined]

    def check(self, **kwargs: Any) -> list[Any]:
        return []

    def find(self, path: str, find_all: bool = False, **kwargs: Any) -> Any:
        if path == f"{PREFIX}/{FILENAME}":
            found = str(_package_dir() / FILENAME)
            return [found] if find_all else found
        return [] if find_all else None

    def list(self, ignore_patterns: Any) -> Any:
        yield FILENAME, self.storage
