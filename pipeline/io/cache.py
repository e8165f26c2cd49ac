"""A small JSON cache on Beam FileSystems (local, gs://, s3://): reruns do not pay twice."""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from typing import Any

from apache_beam.io.filesystems import FileSystems

log = logging.getLogger(__name__)


def cache_key(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


class JsonCache:
    def __init__(self, root: str) -> None:
        self.root = root.rstrip("/")

    def _path(self, key: str) -> str:
        return FileSystems.join(self.root, key[:2], f"{key}.json")

    def get(self, key: str) -> dict[str, Any] | None:
        path = self._path(key)
        if not FileSystems.exists(path):
            return None
        with FileSystems.open(path) as f:
            data = f.read()
        try:
            return json.loads(data)
        except ValueError:
            log.warning("ignoring an unreadable cache entry %s", path)
            return None

    def put(self, key: str, value: dict[str, Any]) -> None:
        """Write to a temporary name, then rename: a reader never sees half an entry.

        (Local FileSystems.create makes the parent folders; object stores have none.)
        """
        path = self._path(key)
        tmp = f"{path}.{uuid.uuid4().hex}.tmp"
        with FileSystems.create(tmp) as f:
            f.write(json.dumps(value, sort_keys=True).encode("utf-8"))
        FileSystems.rename([tmp], [path])
