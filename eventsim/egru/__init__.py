"""EGRU: event-based GRU with an activity-sparse forward pass and sparse BPTT (see ``docs/egru.md``).

* ``EGRU`` (a stack of ``EGRULayer``), ``EGRUClassifier`` (EGRU + linear read-out of the trace),
  ``EGRUConfig`` (thresholds, pseudo-derivative, trace) in ``eventsim.egru.model``/``params``;
* ``reference_forward``/``reference_backward``: dense NumPy oracle;
* ``fit``: training loop for sequence classification/regression (``eventsim.egru.train``);
* ``tasks``: sequential-digits encoders and the delayed-XOR / adding long-memory tasks.
"""
from .params import EGRUConfig
from .model import EGRU, EGRUClassifier, EGRULayer, EGRUOutput, LayerGrads, LayerRun
from .reference import reference_backward, reference_forward
from .train import fit
from . import tasks

__all__ = ["EGRU", "EGRUClassifier", "EGRUConfig", "EGRULayer", "EGRUOutput", "LayerGrads", "LayerRun",
           "reference_backward", "reference_forward", "fit", "tasks"]
