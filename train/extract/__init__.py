"""A folder of sign videos -> a signedge dataset of hand keypoints (``sign-extract``).

The modules: ``config`` (what to extract, as the flags say it), ``plan`` (every
video with its label and output file, checked before anything is written),
``video`` (one video through a landmark backend -> one Recording), ``folder``
(the dataset folder: compatibility, manifest, dataset.json) and ``job`` (the
whole run: resume, the process pool, failures, the manifest last).
"""
