"""What to synthesise: ``SynthConfig`` (mirrored by the ``sign-synth`` flags) and the synthetic camera's shape.

Its own module because every other part of the generator (hand, signs,
recordings, writer) reads it and none of them should have to import another
part just to know the word list or the seed.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge_runtime.dataset import check_label
from edge_runtime.errors import SignedgeError

DEFAULT_WORDS = ("무한", "미국", "수학", "월세", "일요일")
ASPECT = 16 / 9  # a 1280x720 camera


class SynthError(SignedgeError, ValueError):
    """The synthetic dataset cannot be made as asked (bad word list, counts or output folder)."""


@dataclass(frozen=True)
class SynthConfig:
    """What to synthesise; the ``sign-synth`` flags mirror these fields."""

    words: tuple[str, ...] = DEFAULT_WORDS
    signers: int = 8
    per_word: int = 25  # recordings per word in all, spread over the signers
    frames_min: int = 40
    frames_max: int = 100
    seed: int = 0

    def validate(self) -> None:
        if not self.words:
            raise SynthError("no words given")
        for word in self.words:
            check_label(word, "--words")
        dupes = sorted({w for w in self.words if self.words.count(w) > 1})
        if dupes:
            raise SynthError(f"word {dupes[0]!r} is given more than once")
        if self.signers < 1:
            raise SynthError(f"--signers must be at least 1, got {self.signers}")
        if self.per_word < 1:
            raise SynthError(f"--per-word must be at least 1, got {self.per_word}")
        if self.frames_min < 10:
            raise SynthError(f"--frames-min must be at least 10 (room for rest, sign and rest), got {self.frames_min}")
        if self.frames_max < self.frames_min:
            raise SynthError(f"--frames-max ({self.frames_max}) is smaller than --frames-min ({self.frames_min})")
        if self.seed < 0:
            raise SynthError(f"--seed must be >= 0, got {self.seed}")
