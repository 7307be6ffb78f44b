"""Exact EventProp gradients (Wunderlich & Pehle 2021) for eventsim networks.

``value_and_grad(net, inputs, labels, loss, t_max)`` simulates the batch exactly, evaluates the
loss and runs the adjoint pass backwards over the same events (``eventsim.kernels.eventprop``),
returning the loss and dL/dw for every synapse of every projection (and dL/dd with
``wants_delays=True``). Feed-forward and recurrent networks, per-synapse delays, any v_leak /
v_reset, ``tau_mem == tau_syn``; refractory periods are not supported (``t_ref`` must be 0).
See docs/eventprop.md for the equations in our convention.
"""
from .core import value_and_grad

__all__ = ["value_and_grad"]
