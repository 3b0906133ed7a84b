"""The feature computations behind the registered specs (``edge_runtime.spec``): one module per layout."""
