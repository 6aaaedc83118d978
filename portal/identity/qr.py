"""QR codes as inline SVG, drawn on the server (no external service, no script).

The markup has presentation attributes only (no ``style``), so it passes a
strict Content-Security-Policy.
"""

from __future__ import annotations

import segno
from markupsafe import Markup, escape

SCALE = 4  # px per module: 49 modules × 4 = a 196 px code, easy to scan


def qr_svg(data: str, *, label: str) -> Markup:
    """``data`` as an accessible inline ``<svg>`` (``role="img"``, ``label`` as its name)."""
    code = segno.make(data, error="m")
    svg = code.svg_inline(
        scale=SCALE,
        border=4,
        dark="#000",
        light="#fff",
        omitsize=True,  # keeps the viewBox, so it scales down on narrow screens
        svgclass="qr-code",
        lineclass=None,
    )
    width, height = code.symbol_size(scale=SCALE, border=4)
    attributes = f'<svg width="{width}" height="{height}" role="img" aria-label="{escape(label)}" '
    return Markup(svg.replace("<svg ", attributes, 1))
