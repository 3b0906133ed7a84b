"""Host-side conversion of a trained run to TFLite and ONNX, verified with the device's interpreter."""
