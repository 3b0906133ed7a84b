"""Experiments that train models to answer a question about accuracy (``sign-accuracy``: the README's table on the
shared real sets; ``body_reference``: does a body reference help people the model never saw?).

``benchmarks/`` times things; this package trains and scores. It may import every host package; none imports it.
"""
