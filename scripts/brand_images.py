"""Draw the brand images in custom_components/usage_stats/brand/.

A 3D printer printing a bar chart: a white gantry with its nozzle over amber bars, on a
blue rounded square that reads on light and dark backgrounds alike. Home Assistant
(2026.3 and later) and HACS take a custom integration's brand images from its `brand/`
folder: `icon.png` 256x256 and `icon@2x.png` 512x512, `logo.png` and `logo@2x.png` (the
shortest side 128 and 256 pixels), and `dark_` variants for dark themes. Only the logo's
name needs a dark variant; the icon keeps its plate on both.

Run with the development environment after changing the drawing, and commit the images:

    .venv/bin/python scripts/brand_images.py
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

BRAND = Path(__file__).parent.parent / "custom_components" / "usage_stats" / "brand"
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
NAME = "Usage Statistics"

PLATE = (21, 101, 192, 255)  # Blue.
FRAME = (255, 255, 255, 255)
BARS = (255, 179, 0, 255)  # Amber.
TEXT_ON_LIGHT = (31, 41, 55, 255)
TEXT_ON_DARK = (243, 244, 246, 255)

# Everything is drawn this many times larger and scaled down, for smooth edges.
SUPERSAMPLE = 4


def draw_mark(size: int) -> Image.Image:
    """Return the square mark, `size` pixels wide, on a transparent background."""
    canvas = size * SUPERSAMPLE
    image = Image.new("RGBA", (canvas, canvas), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)

    def box(left: float, top: float, right: float, bottom: float) -> list[float]:
        """Scale a box given on a 512-unit grid."""
        unit = canvas / 512
        return [left * unit, top * unit, right * unit, bottom * unit]

    unit = canvas / 512
    draw.rounded_rectangle(box(8, 8, 504, 504), radius=104 * unit, fill=PLATE)
    # The gantry: two posts and the top bar.
    draw.rounded_rectangle(box(92, 100, 124, 404), radius=10 * unit, fill=FRAME)
    draw.rounded_rectangle(box(388, 100, 420, 404), radius=10 * unit, fill=FRAME)
    draw.rounded_rectangle(box(92, 100, 420, 132), radius=10 * unit, fill=FRAME)
    # The print head on the top bar, its nozzle over the tallest bar.
    draw.rounded_rectangle(box(294, 124, 362, 184), radius=10 * unit, fill=FRAME)
    draw.polygon(
        [(x * unit, y * unit) for x, y in ((310, 182), (346, 182), (328, 204))],
        fill=FRAME,
    )
    # The bed.
    draw.rounded_rectangle(box(72, 396, 440, 428), radius=12 * unit, fill=FRAME)
    # The chart being printed: three bars, growing to the right.
    for left, top in ((150, 316), (226, 262), (302, 218)):
        draw.rounded_rectangle(
            box(left, top, left + 52, 400),
            radius=8 * unit,
            fill=BARS,
            corners=(True, True, False, False),
        )
    return image.resize((size, size), Image.Resampling.LANCZOS)


def draw_logo(height: int, text_colour: tuple[int, int, int, int]) -> Image.Image:
    """Return the mark with the name beside it, `height` pixels high, trimmed."""
    mark = draw_mark(height)
    font = ImageFont.truetype(str(FONT), round(height * 0.36 * SUPERSAMPLE))
    left, top, right, bottom = font.getbbox(NAME)
    gap = round(height * 0.18)
    text_width = -(-(right - left) // SUPERSAMPLE)
    width = height + gap + text_width + 2
    width += width % 2  # Even, so that half of it is the 1x logo exactly.
    text = Image.new("RGBA", (width * SUPERSAMPLE, height * SUPERSAMPLE), (0, 0, 0, 0))
    ImageDraw.Draw(text).text(
        (
            (height + gap) * SUPERSAMPLE - left,
            (height * SUPERSAMPLE - (bottom - top)) / 2 - top,
        ),
        NAME,
        font=font,
        fill=text_colour,
    )
    logo = text.resize((width, height), Image.Resampling.LANCZOS)
    logo.alpha_composite(mark)
    return logo


def half(image: Image.Image) -> Image.Image:
    """Return the 1x image of an @2x one."""
    return image.resize((image.width // 2, image.height // 2), Image.Resampling.LANCZOS)


def main() -> None:
    """Write every brand image."""
    BRAND.mkdir(exist_ok=True)
    logo, dark_logo = draw_logo(256, TEXT_ON_LIGHT), draw_logo(256, TEXT_ON_DARK)
    images = {
        "icon.png": draw_mark(256),
        "icon@2x.png": draw_mark(512),
        "logo.png": half(logo),
        "logo@2x.png": logo,
        "dark_logo.png": half(dark_logo),
        "dark_logo@2x.png": dark_logo,
    }
    for name, image in images.items():
        image.save(BRAND / name, optimize=True)
        print(f"{BRAND / name}: {image.width}x{image.height}")


if __name__ == "__main__":
    main()
