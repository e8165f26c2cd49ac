"""Run inside a client venv that pins `datasets` (LLaMA-Factory's: 4.0.0): every JSON export
and the samples folder's dataset card must load there too, one Arrow type per field.

usage: check_datasets.py SAMPLES_DIR EXPECTED_SPLITS_JSON EXPORT_FILE:ROWS [...]
"""

from __future__ import annotations

import json
import sys
import tempfile


def main(samples: str, splits: str, exports: list[str]) -> int:
    import datasets
    from datasets import load_dataset

    with tempfile.TemporaryDirectory() as cache:
        for item in exports:
            path, rows = item.rsplit(":", 1)
            ds = load_dataset("json", data_files=path, split="train", cache_dir=cache)
            assert ds.num_rows == int(rows), (path, ds.num_rows, rows)
        loaded = load_dataset(samples, cache_dir=cache)
        got = {name: part.num_rows for name, part in loaded.items()}
        assert got == json.loads(splits), (got, splits)
    print(f"datasets {datasets.__version__}: {len(exports)} exports and the samples card load")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
