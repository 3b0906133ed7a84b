"""A built-in synthetic dataset (``sign-synth``), so the demo and the tests need no video and no camera.

Every recording is drawn from a procedural 21-point hand (MediaPipe topology:
wrist 0, thumb 1-4, index 5-8, middle 9-12, ring 13-16, little 17-20) built
from a small kinematic skeleton: per-finger flexion at the knuckle and the
middle joint, finger spread, thumb abduction / opposition / curl, a palm
orientation in 3-D, a wrist position. A word is one- or two-handed: a sequence
of 1-3 handshape keyframes, a palm orientation, a start location and a wrist
movement (circle, line, tap, arc, wave, twist, ...). The motions are INVENTED:
they are not the real Korean signs of the default words, only stand-ins with
the same names, so a model trained here says nothing about real sign language.

Why it is still worth having: it is a small but honest generalisation problem.
Words come in confusable pairs (the second word of a pair copies the first one
and changes only its movement, or only one handshape keyframe to a near
neighbour), so a model must use both shape and motion. Synthetic signers differ in hand size, position in the
frame, camera distance, speed, amplitude of movement, a personal handshape
"style", a slight tilt of the hands, and some are left-handed (the dominant
hand is then the signer's left: the whole sign is mirrored and lands in the
other slot). Clips start and end with the hands resting low or out of the
frame, the detector drops hands for runs of frames, and landmarks jitter.
A classifier trained on some signers must therefore be tested on others (the
signer-grouped split); a split by recording, or one that puts augmented
variants of one recording on both sides, scores higher and proves less.

What a word looks like depends only on the word list (not on ``--seed``), so
sets made with different seeds show the same signs by different signers; the
seed draws the signers and every recording. Same config -> identical arrays.

Simplifications: an orthographic camera (no perspective), no body, face or
arm, hands that never touch, cross or hide each other, and a detector whose
only failures are frames out of the picture and random drop-outs. The
difficulty is checked by ``tests/test_synth.py`` (a logistic regression on
held-out signers must land between chance and perfect).

The modules: ``config`` (what to synthesise), ``hand`` (the kinematic hand and its
rotations), ``signs`` (movements, the invented sign of every word, the signers),
``recordings`` (one performance in front of a camera -> one Recording) and
``writer`` (a dataset folder on disk).
"""
