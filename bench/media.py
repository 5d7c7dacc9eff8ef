"""Measure what an upload costs: the checks and the derived copies (``chengguan.media.checks.inspect``) plus
storing the original, public copy and thumbnail in the local content-addressed storage — everything
``POST /api/v1/media`` does besides the HTTP framing and one INSERT.

Files: real photos and a real camera clip (``tests/media_samples.py``, from ../shared/data): a 1920×1080
phone-style JPEG with EXIF GPS, the same scene re-encoded as HEIC, a 2 s H.264 MP4, and a 20,000 × 20,000
PNG decompression bomb (refused). Baseline, measured in the same run on the same bytes: hashing the original
and storing it alone (what a store that checks nothing would do). Each figure is the median and p90 over
rounds that alternate between the checked path and the baseline.

Usage: ``python bench/media.py`` (40 rounds) or ``--quick`` (8 rounds). The last line printed is JSON. Needs
the shared data beside the checkout; without it, it says so in one line and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from chengguan.media import checks  # noqa: E402
from chengguan.media.storage import LocalStorage, sha256_hex  # noqa: E402


def _ms(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 rounds instead of 40 (under a minute)")
    args = parser.parse_args()
    rounds = 8 if args.quick else 40
    try:
        from tests import media_samples as samples

        files = {
            "jpeg_1080p": samples.jpeg_with_gps(),
            "heic": samples.heic_with_gps(),
            "mp4_2s": samples.video("mp4"),
        }
        bomb = samples.png_bomb(20_000)
    except (FileNotFoundError, OSError) as exc:
        print(f"共享数据不可用（{exc}）：请把 shared/data 放在仓库旁边。")
        return 2
    limits = checks.Limits()
    out: dict[str, float | int] = {"rounds": rounds}
    with tempfile.TemporaryDirectory(prefix="cg-bench-media-") as tmp:
        for name, data in files.items():
            root = Path(tmp) / name

            def checked(data: bytes = data, root: Path = root) -> None:
                store = LocalStorage(root / f"c{time.perf_counter_ns()}")
                found = checks.inspect(data, limits)
                store.put(sha256_hex(data), data, content_type=found.mime)
                store.put(sha256_hex(found.public), found.public, content_type=found.public_mime)
                store.put(sha256_hex(found.thumb), found.thumb, content_type=found.thumb_mime)

            def baseline(data: bytes = data, root: Path = root) -> None:
                LocalStorage(root / f"b{time.perf_counter_ns()}").put(sha256_hex(data), data, content_type="x")

            times: dict[str, list[float]] = {"checked": [], "baseline": []}
            runs: list[tuple[str, Callable[[], None]]] = [("checked", checked), ("baseline", baseline)]
            checked()  # warm-up (decoders, imports)
            for i in range(rounds):
                for label, fn in runs if i % 2 == 0 else reversed(runs):
                    started = time.perf_counter()
                    fn()
                    times[label].append(time.perf_counter() - started)
            out[f"{name}_bytes"] = len(data)
            out[f"{name}_upload_p50_ms"] = _ms(times["checked"], 0.5)
            out[f"{name}_upload_p90_ms"] = _ms(times["checked"], 0.9)
            out[f"{name}_baseline_p50_ms"] = _ms(times["baseline"], 0.5)
            print(
                f"{name:>10}: {len(data) / 1024:7.0f} KiB  checked+stored p50 {out[f'{name}_upload_p50_ms']:8.2f} ms"
                f"  p90 {out[f'{name}_upload_p90_ms']:8.2f} ms   baseline (hash+store original) p50"
                f" {out[f'{name}_baseline_p50_ms']:6.2f} ms"
            )
    refused: list[float] = []
    for _ in range(rounds):
        started = time.perf_counter()
        try:
            checks.inspect(bomb, limits)
        except checks.MediaTooLarge:
            refused.append(time.perf_counter() - started)
    assert len(refused) == rounds, "the bomb was not refused"
    out["png_bomb_bytes"] = len(bomb)
    out["png_bomb_refused_p50_ms"] = _ms(refused, 0.5)
    print(f"  png bomb: {len(bomb) / 1024:7.0f} KiB  (20000×20000) refused p50 {out['png_bomb_refused_p50_ms']} ms")
    print(json.dumps(out, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
