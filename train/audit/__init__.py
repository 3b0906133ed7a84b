"""A data-quality and label audit of a dataset, before any training (``sign-audit``).

Why: public sign-language data carries wrong labels and people whose hands the
detector lost, and a model trained on them hides both behind one accuracy
figure. In the shared ASL set one person's ``thanks`` and ``iloveyou`` labels
are swapped and several people never make the "I love you" handshape at all.
The audit finds such things in a minute, without TensorFlow, and never
changes the data: it only writes a report.

What it does, in order:

1. Per recording: frames, which hands were found, jitter (median frame-to-frame
   motion of the wrist-relative finger points, in hand sizes: detector noise
   plus finger motion, never whole-hand motion), and the statistics (mean, std,
   min, max over time) of the feature spec's model input.
2. A quick model (StandardScaler + logistic regression on those statistics)
   predicts every recording out-of-fold, the folds grouped by signer
   (``GroupKFold``): each person is predicted by a model that never saw them.
3. ``cleanlab.filter.find_label_issues`` on those out-of-fold probabilities:
   recordings whose label looks wrong.
4. Per person (rules in :class:`AuditConfig`, stated in the report):
   *low accuracy* (out-of-fold accuracy below ``min_accuracy``, with the
   confusions); *permuted labels* (the permutation of the labels that best
   matches the predictions, found by linear assignment on the person's
   confusion matrix, agrees with at least ``permutation_agreement`` of their
   recordings and at least ``permutation_gain`` more than their labels as
   given); *missing handshape* (for a label whose handshape is distinctive,
   the person's recordings of that label never come close to it).
5. Where recordings carry a body pose (``body``): per recording, the share of
   frames whose left-hand block sits at the pose's LEFT wrist; a person whose
   median share is below ``hand_block_share`` has swapped hand blocks (their
   left/right features are mirrored, or the right hand fills both blocks), and
   their recordings with a block at the other side's wrist are flagged.
6. Mixed data, whose recordings carry ``extra["language"]`` (``languages``,
   ``glosses``): a row per language, and labels whose people fall into groups
   that sign them differently (split glosses: reported, never relabelled or
   flagged). Split glosses can also be asked for on any dataset.
7. Writes ``audit.md``, ``recordings.csv``, ``people.csv`` and ``flagged.txt``
   (the manifest ``file`` of every recording flagged by cleanlab, by a
   permutation or by swapped hand blocks, for ``sign-train --exclude-flagged``).
   A dataset without languages whose hand blocks are fine gets exactly the
   files it got before these mixed-data checks existed (``report_mixed``).

No randomness anywhere (GroupKFold, lbfgs, cleanlab, Ward clustering and
median polish are deterministic; small matrix products run on one thread), so
the same dataset always gives the same files.

The modules, in the order the audit runs: ``config`` (the thresholds),
``measure`` (step 1, with ``body`` for the hand blocks), ``labels`` (steps 2-4),
``languages`` and ``glosses`` (step 6), ``result`` (what it found, typed),
``report`` with ``report_mixed`` and ``tables`` (step 7) and ``run``
(``audit``: all of it, in that order).
"""
