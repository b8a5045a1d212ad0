"""Chapter 8's experiment: fine-tune many small transfer-learning models at once.

Introduced in Chapter 8 (fine-tuning experiments), which imports it as
``from tfcustom import finetune as ft``. Importing it does not import
TensorFlow; its training functions do.

The task: a base network is pretrained on the handwritten digits 0-4 of
scikit-learn's digits set and fine-tuned, with 10 labelled images per class,
to recognize the digits 5-9. A *split* fixes everything that the data and
the pretraining decide: which 50 target images are labelled, which of the
others are validation and test images, and the pretrained base (pretrained
with the split's own seed). A *seed* fixes everything that training decides
within a split: the new layers' initial weights, the batch order and the
dropout masks. A *variant* (:class:`Variant`) says what the fine-tuned model
has on top of the base.

:func:`fine_tune` trains a whole grid of ``variants x splits x seeds`` runs
together, as one graph in which every run has its own weights: a run's
Dense layers are slices of batched weight tensors, and the loss is the sum
of the runs' losses, so that each run's gradient is its own. Every random
draw comes from NumPy generators keyed by ``(split, seed, layer)`` alone, so
that two variants that share a layer start it from the same weights and see
the same batches and dropout masks: the comparison of two variants on the
same ``(split, seed)`` is exactly paired. The environment variable
``BOOK_SEED_OFFSET`` (an integer >= 0, default 0) moves every one of these
keys, for a rerun of the experiment with other splits and seeds
(``python -m booktools.check_robustness --seed-offset N`` sets it; see
``design.py``).

The arithmetic matches Keras's layers and optimizer (``Dense``,
``BatchNormalization`` with ``epsilon=1e-3``, two ``Adam`` optimizers, an L2
kernel penalty): ``tests/test_finetune.py`` trains the same run both ways and
compares, and checks the dropout masks against their definition (inverted
dropout, ``h * (u >= rate) / (1 - rate)``). One deliberate difference: batch
normalization divides by ``sqrt(variance + epsilon)`` instead of multiplying
by TensorFlow's float32 ``rsqrt``, whose last bit differs between Intel and
AMD processors.

The modules, by concern:

- ``design.py``: the data, the splits, the variants, the training settings,
  the initial weights and every random draw (and ``BOOK_SEED_OFFSET``);
- ``pretraining.py``: :func:`pretrain`, one base per split;
- ``fine_tuning.py``: :func:`fine_tune` and its result, :class:`FineTuned`;
- ``engine.py``: the batched arithmetic (Dense, batch normalization,
  dropout, Adam) and the training loops, as TensorFlow graphs;
- ``metrics.py``: :func:`macro_f1`.
"""

from .design import (
    BN_EPSILON,
    N_CLASSES,
    Split,
    Training,
    TransferData,
    Variant,
    initial_head,
    load_transfer_data,
    make_split,
    run_draws,
)
from .fine_tuning import FineTuned, fine_tune
from .metrics import macro_f1
from .pretraining import Pretrained, pretrain

__all__ = [
    "BN_EPSILON",
    "N_CLASSES",
    "FineTuned",
    "Pretrained",
    "Split",
    "TransferData",
    "Training",
    "Variant",
    "fine_tune",
    "initial_head",
    "load_transfer_data",
    "macro_f1",
    "make_split",
    "pretrain",
    "run_draws",
]
