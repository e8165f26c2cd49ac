"""Open a report in Debian's headless chromium and read back what it laid out: every image's
load state and every strip's thumbnails and marks with their drawn positions.

A page beside the report holds it in a frame and writes its findings as JSON into its own
DOM, which `--dump-dom` prints; the report itself has no script.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

PROBE = """<!doctype html><html><body><iframe id='f' src='index.html'
style='width:1200px;height:20000px'></iframe><pre id='out'></pre><script>
document.getElementById('f').addEventListener('load', () => {
  const d = document.getElementById('f').contentDocument;
  const box = el => el.getBoundingClientRect();
  const images = [...d.images].map(i => ({src: i.getAttribute('src'),
    ok: i.complete && i.naturalWidth > 0, width: box(i).width}));
  const strips = [...d.querySelectorAll('.strip')].map(s => {
    const track = s.querySelector('.track'), t = box(track);
    const at = el => { const b = box(el); return (b.left + b.width / 2 - t.left) / t.width; };
    return {sample: s.dataset.sample, start: +track.dataset.startMs, end: +track.dataset.endMs,
      thumbs: [...s.querySelectorAll('.thumb')].map(e => ({ms: +e.dataset.ms, at: at(e)})),
      marks: [...s.querySelectorAll('.mark')].map(e => ({ms: +e.dataset.ms, at: at(e),
        top: box(e).top, bottom: box(e).bottom, left: box(e).left, right: box(e).right}))};
  });
  const headings = [...d.querySelectorAll('h2, h3')].map(h => h.textContent);
  document.getElementById('out').textContent = JSON.stringify({images, strips, headings});
});
</script></body></html>"""


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "Debian's chromium is installed by `make test` (the report's browser check)"
    return found


def layout(report: Path, timeout_s: float = 120.0) -> dict[str, Any]:
    probe = report / "_probe.html"
    probe.write_text(PROBE, encoding="utf-8")
    try:
        proc = subprocess.run(
            [
                chromium(),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--allow-file-access-from-files",
                "--virtual-time-budget=20000",
                "--dump-dom",
                probe.resolve().as_uri(),
            ],
            capture_output=True,
            timeout=timeout_s,
            check=True,
        )
    finally:
        probe.unlink()
    found = re.search(r"<pre id=\"out\">(.*?)</pre>", proc.stdout.decode(), re.S)
    assert found and found.group(1), proc.stderr.decode()[-2000:]
    return json.loads(html.unescape(found.group(1)))
