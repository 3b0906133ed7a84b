"""Host-side pieces that training, export and the benchmarks share, so none of them imports another for them.

The run folder (``run_folder``), the dataset-to-features path every host job uses (``features``), the project's
custom Keras layers (``layers``) and TensorFlow's noisy start-up (``native_stderr``). It imports
``edge_runtime`` only; ``edge_runtime`` (the device) never imports it.
"""
