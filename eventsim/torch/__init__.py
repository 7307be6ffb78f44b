"""EventProp as a torch layer (the ``torch`` extra): exact spiking simulations inside torch autograd.

- ``EventPropFunction``: a ``torch.autograd.Function`` whose forward runs the exact simulation and
  returns a read-out (``Readout``: first-spike times in ms, or the max voltage / voltage integral of
  a non-spiking read-out, shape (n_samples, n)), and whose backward runs EventProp's adjoint pass
  (``eventsim.eventprop.backward``) with the upstream gradient as loss parts. Inputs: the weight
  tensors of every projection, optionally the delays and the input spike times.
- ``SpikingNetwork``: an ``nn.Module`` holding a network's weights (and delays) as float64
  parameters; ``forward(inputs, times=None)`` returns the read-out tensor, so torch losses,
  optimisers, schedulers and other layers compose with it.
- ``EventPropLoss``: an ``nn.Module`` returning the scalar value of an ``eventsim.losses`` loss,
  whose gradients are exactly those of ``eventsim.eventprop.value_and_grad``.

``import eventsim`` does not import this package; without torch, ``import eventsim.torch`` raises
an ImportError naming the extra to install.
"""
from ..extras import require

require("torch", "eventsim.torch")

from .readout import Readout, as_readout  # noqa: E402
from .function import EventPropFunction, Simulation  # noqa: E402
from .modules import EventPropLoss, SpikingNetwork, parameter_key  # noqa: E402

__all__ = ["EventPropFunction", "EventPropLoss", "Readout", "Simulation", "SpikingNetwork", "as_readout",
           "parameter_key"]
