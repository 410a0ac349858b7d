"""Open an HTML report in a headless browser and save a full-page screenshot, to look at it.

    python scripts/screenshot_report.py runs/season1/report.html runs/season1/report.png

Uses Chromium (or Google Chrome) in headless mode; prints the screenshot's path, or one line
naming what is missing and exits 2.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def browser() -> str | None:
    """The first headless-capable browser on the PATH, or None."""
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def screenshot(page: Path, png: Path, width: int = 1280, height: int = 6000) -> Path:
    """Render ``page`` at ``width`` x ``height`` CSS pixels into ``png``; raises RuntimeError when
    no browser is found or it fails."""
    exe = browser()
    if exe is None:
        raise RuntimeError(f"no headless browser found (looked for {', '.join(BROWSERS)})")
    png.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           f"--window-size={width},{height}", f"--screenshot={png.resolve()}",
                           page.resolve().as_uri()], capture_output=True, text=True, timeout=120)
    if done.returncode != 0 or not png.is_file():
        raise RuntimeError(f"{exe} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return png


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not Path(argv[0]).is_file():
        print("usage: screenshot_report.py REPORT.html OUT.png (the report must exist)", file=sys.stderr)
        return 2
    try:
        print(screenshot(Path(argv[0]), Path(argv[1])))
    except RuntimeError as err:
        print(err, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
