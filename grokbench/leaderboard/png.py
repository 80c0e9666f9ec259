"""Figures written as 8-bit palette PNGs, to keep the published page's folder small."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image

COLOURS = 256


def save_figure(fig: Any, path: str | Path) -> None:
    """Write the matplotlib figure ``fig`` to ``path`` as a palette PNG of at most
    ``COLOURS`` colours (median cut over the rendered RGB pixels). Line plots need few
    colours: the file is about a third of matplotlib's RGBA PNG (measured on the v3 page's
    figures: 2.33 MB -> 0.77 MB), with no difference visible. Deterministic for a given
    figure and Pillow version."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    buffer.seek(0)
    with Image.open(buffer) as image:
        palette = image.convert("RGB").quantize(colors=COLOURS, method=Image.Quantize.MEDIANCUT)
    palette.save(path, format="PNG", optimize=True)
