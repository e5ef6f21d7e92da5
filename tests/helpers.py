"""Small images drawn for tests, so that the suite never depends on files from outside."""

from PIL import Image, ImageDraw


def content_image(width: int = 48, height: int = 40) -> Image.Image:
    image = Image.new("RGB", (width, height), (190, 205, 230))
    draw = ImageDraw.Draw(image)
    draw.rectangle((width // 8, height // 2, width // 2, height - 2), fill=(150, 60, 40))
    draw.ellipse((width // 2, 2, width - 4, height // 2), fill=(240, 200, 40))
    draw.line((0, height * 3 // 4, width, height * 3 // 4), fill=(30, 90, 30), width=2)
    return image


def style_image(size: int = 48) -> Image.Image:
    image = Image.new("RGB", (size, size), (240, 235, 220))
    draw = ImageDraw.Draw(image)
    for x in range(-size, size, 6):
        draw.line((x, 0, x + size, size - 1), fill=(20, 40, 160), width=2)
    for y in range(0, size, 9):
        draw.line((0, y, size - 1, y + 4), fill=(230, 120, 20), width=1)
    return image
