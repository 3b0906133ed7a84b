"""Host-side data work and training: synth, extract, record, import, split, augment, fit, evaluate.

TensorFlow is imported only by the modules that train, so data commands run with the ``edge`` extra alone.
"""
