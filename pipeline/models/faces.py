"""Faces with OpenCV's frontal-face Haar cascade, whose weights ship in opencv-python-headless
(cv2.data): a talking head is a large face in most keyframes.

One detector is shared by a worker's threads (models load once per worker), but an OpenCV
cascade is not: two threads in one `detectMultiScale` fail its scale-data assertion (OpenCV
algorithms are not thread-safe by design). Each thread gets its own cascade, a 1 MB file that
loads in milliseconds, so the threads detect at once instead of queueing on a lock.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

# Faces are looked for on a picture of at most this long side: the signal is the largest
# face's share of the picture, and a face too small to find at this size (under 24 px, about
# 2 % of the picture's width) shares nothing that counts; the cascade's cost grows with the
# pixels (a 640 px keyframe costs three times a 320 px one).
DETECT_SIDE = 320


class FaceDetector:
    def __init__(self) -> None:
        import cv2

        cv2.setNumThreads(1)  # its thread pool fights torch's over the same cores
        self._cv2 = cv2
        self._own = threading.local()
        self._cascade()  # a missing or broken cascade fails at load, not on the first frame

    name = "opencv-haar-frontalface"

    def _cascade(self) -> Any:  # cv2.CascadeClassifier
        """This thread's cascade, loaded on its first use."""
        cascade = getattr(self._own, "cascade", None)
        if cascade is None:
            cascade = self._cv2.CascadeClassifier(
                self._cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
            )
            if cascade.empty():
                raise RuntimeError("OpenCV's face cascade did not load")
            self._own.cascade = cascade
        return cascade

    def largest_face(self, frame: np.ndarray) -> float:
        """The largest face's share of the picture (0 when there is none)."""
        gray = self._cv2.cvtColor(frame, self._cv2.COLOR_RGB2GRAY)
        h, w = gray.shape
        if max(h, w) > DETECT_SIDE:
            scale = DETECT_SIDE / max(h, w)
            w, h = max(round(w * scale), 1), max(round(h * scale), 1)
            gray = self._cv2.resize(gray, (w, h), interpolation=self._cv2.INTER_AREA)
        faces = self._cascade().detectMultiScale(
            gray, scaleFactor=1.1, minNeighbors=5, minSize=(max(24, w // 20), max(24, h // 20))
        )
        return max((fw * fh / (w * h) for _, _, fw, fh in faces), default=0.0)
