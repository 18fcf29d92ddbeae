"""The brand images Home Assistant and HACS take from the integration's brand folder."""

from __future__ import annotations

from pathlib import Path

from PIL import Image
import pytest

from homeassistant.util.yaml import load_yaml_dict

BRAND = Path(__file__).parent.parent / "custom_components" / "usage_stats" / "brand"


@pytest.mark.parametrize(("name", "size"), [("icon.png", 256), ("icon@2x.png", 512)])
def test_icons_are_square_pngs_of_the_required_size(name: str, size: int) -> None:
    """icon.png is 256x256 and icon@2x.png 512x512, with a transparent background."""
    with Image.open(BRAND / name) as image:
        assert image.format == "PNG"
        assert image.size == (size, size)
        assert image.mode == "RGBA"
        assert image.getpixel((0, 0))[3] == 0  # The plate's rounded corner.
        assert image.getpixel((size // 2, size // 2))[3] == 255


@pytest.mark.parametrize("variant", ["", "dark_"])
def test_logos_are_pngs_of_the_required_size(variant: str) -> None:
    """Logos: the shortest side 128 (@2x: 256) pixels, the @2x one twice the size."""
    with (
        Image.open(BRAND / f"{variant}logo.png") as logo,
        Image.open(BRAND / f"{variant}logo@2x.png") as logo_2x,
    ):
        assert logo.format == logo_2x.format == "PNG"
        assert logo.mode == logo_2x.mode == "RGBA"
        assert min(logo.size) == logo.height == 128
        assert min(logo_2x.size) == logo_2x.height == 256
        assert logo_2x.width == 2 * logo.width
        assert logo.getpixel((logo.width - 1, 0))[3] == 0


def test_only_known_brand_files() -> None:
    """Every file in brand/ is one of the names Home Assistant looks for."""
    known = {
        f"{dark}{kind}{hdpi}.png"
        for dark in ("", "dark_")
        for kind in ("icon", "logo")
        for hdpi in ("", "@2x")
    }
    names = {path.name for path in BRAND.iterdir()}
    assert {"icon.png", "icon@2x.png", "logo.png", "logo@2x.png"} <= names <= known


def test_brands_rule_is_done_and_validated() -> None:
    """The quality scale marks brands done, and HACS validation checks them."""
    root = BRAND.parent.parent.parent
    rules = load_yaml_dict(str(BRAND.parent / "quality_scale.yaml"))["rules"]
    assert rules["brands"] == "done"
    workflow = load_yaml_dict(str(root / ".github" / "workflows" / "validate.yml"))
    (hacs,) = (
        step
        for step in workflow["jobs"]["hacs"]["steps"]
        if step.get("uses", "").startswith("hacs/action")
    )
    assert "brands" not in str(hacs.get("with", {}).get("ignore", ""))
