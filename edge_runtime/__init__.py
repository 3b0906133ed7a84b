"""signedge's device runtime: feature spec, landmarks, interpreters, capture and recognition.

This package runs on a Raspberry Pi. It must never import TensorFlow or Keras,
and imports mediapipe only inside its optional landmark backend.
"""

__version__ = "0.1.0"
