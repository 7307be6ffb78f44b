"""Exact EventProp gradients (Wunderlich & Pehle 2021) for eventsim networks.

``value_and_grad(net, inputs, labels, loss, t_max)`` simulates the batch exactly, evaluates the
loss and runs the adjoint pass backwards over the same events (``eventsim.kernels.eventprop``),
returning the loss and dL/dw for every synapse of every projection (and dL/dd with
``wants_delays=True``, dL/dt of every input spike with ``wants_input_times=True``). It is
``forward`` (the simulation), the loss's parts, then ``backward`` (the adjoint pass); ``backward``
also takes parts from elsewhere, such as an upstream gradient dL/d(first-spike times) of a torch
loss (``eventsim.torch``). Feed-forward and recurrent networks, per-synapse delays, any v_leak /
v_reset, ``tau_mem == tau_syn``; refractory periods are not supported (``t_ref`` must be 0).
See docs/eventprop.md for the equations in our convention.
"""
from .core import backward, forward, value_and_grad

__all__ = ["backward", "forward", "value_and_grad"]
