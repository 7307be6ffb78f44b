r"""Map a continuous-time eventsim network onto Loihi's discrete-time CUBA LIF, and report the error.

Continuous model (eventsim, times in ms): ``tau_s dI/dt = -I`` (a spike adds ``w`` to ``I``),
``tau_m dV/dt = -(V - v_leak) + I``, spike when V reaches ``v_th``, then ``V = v_reset``.

Discrete model (Lava ``LIF``, step ``dt``): ``u[t] = alpha u[t-1] + a[t]``,
``v[t] = beta v[t-1] + u[t] + b``, spike if ``v > theta``, then ``v = 0``.

**Exact discretisation** (``method='exact'``, the default). Shift the voltage so that the reset is
0: ``x = V - v_reset``. With ``alpha = exp(-dt/tau_s)``, ``beta = exp(-dt/tau_m)``, a spike
arriving at step ``k`` (input spike times rounded to the grid; a spike of the previous layer at
step ``k - 1`` reaches the next layer at step ``k``) and

    a = g * w,   g = tau_s / (tau_m - tau_s) * (beta - alpha)      (tau_m != tau_s)
                 g = (dt / tau) * exp(-dt / tau)                    (tau_m == tau_s == tau)
    b = (1 - beta) * (v_leak - v_reset),   theta = v_th - v_reset,   v[0] = v_leak - v_reset,

the discrete ``v[t]`` *equals* the continuous ``x(t * dt)`` at every grid time between resets
(sum of sampled PSPs ``w tau_s/(tau_m - tau_s) (beta^n - alpha^n)`` plus the exact leak), so the only
model errors are the grid itself: input times rounded to ``dt``, a threshold crossing detected at
the end of its step (reported at ``t * dt``, at most ``dt`` late), and the reset at the grid time.
``method='euler'`` gives the forward-Euler model of NIR/Norse/snnTorch instead: ``alpha = 1 - dt/tau_s``,
``beta = 1 - dt/tau_m``, ``g = dt/tau_m``, ``b = (dt/tau_m)(v_leak - v_reset)``.

**Fixed point** (``precision='fixed'``). Per LIF population a voltage scale ``S`` (v-LSB per unit
of V) is chosen as ``S = 64 * vth / theta`` with the integer ``vth`` as large as allowed by
``vth <= 131071``, the head-room ``vth * 64 * headroom <= 2**23`` (u wraps, v saturates at 24 bits),
the largest weight exponent, and the 13+3-bit bias. Then

    du = round(4096 (1 - alpha)) - 1       (Lava decays u by (du + 1)/4096; clipped to 0..4095)
    dv = round(4096 (1 - beta))            (0..4095)
    weight value * 2**weight_exp = S * g * w / 64   (a_in is shifted left by 6 into u)

with, per projection, the sign mode (mixed: even values in [-256, 254]; excitatory [0, 255];
inhibitory [-255, 0]) and the smallest ``weight_exp`` in ``weight_exp_range`` that fits the
largest weight, mantissas rounded to nearest; ``bias_mant << bias_exp = round(S * b)`` with the
smallest exponent that fits 13 bits; ``v0`` the fixed point of the integer rest dynamics nearest
``S * (v_leak - v_reset)`` (so that rest is stationary, as in the continuous model). Delays:
``round(d / dt)`` extra steps (Lava's Dense already adds the one step of the convention above),
at most 63 (6 bits). ``t_ref > 0`` has no fixed-point model in Lava and is rejected.

``QuantReport`` lists every parameter's target, quantised value and error (see docs/hardware.md).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple

import numpy as np

from eventsim.network import Network, psp_peak
from eventsim.params import positive_ms

from .model import (BIAS_EXP_MAX, BIAS_EXP_MIN, BIAS_MANT_MAX, BIAS_MANT_MIN, DECAY_UNITY, MAX_DELAY, UV_MAX,
                    VTH_MAX, LoihiNet, LoihiProjection)

METHODS = ("exact", "euler")
DEFAULT_WEIGHT_EXP_RANGE = (-8, 7)   # Loihi 1's documented range; assumed for Loihi 2 (see docs)


def discretise(dt: float, tau_syn: float, tau_mem: float, method: str = "exact") -> Tuple[float, float, float, float]:
    """``(alpha, beta, g, bias_gain)`` of the discrete CUBA LIF (see the module docstring)."""
    if method == "exact":
        alpha, beta = math.exp(-dt / tau_syn), math.exp(-dt / tau_mem)
        if abs(tau_mem - tau_syn) <= 1e-12 * max(tau_mem, tau_syn):
            g = (dt / tau_mem) * math.exp(-dt / tau_mem)
        else:
            g = tau_syn / (tau_mem - tau_syn) * (beta - alpha)
        return alpha, beta, g, 1.0 - beta
    if method == "euler":
        if dt > tau_syn or dt > tau_mem:
            raise ValueError(f"method='euler' needs dt <= tau_syn and dt <= tau_mem, got dt={dt}, "
                             f"tau_syn={tau_syn}, tau_mem={tau_mem}")
        return 1.0 - dt / tau_syn, 1.0 - dt / tau_mem, dt / tau_mem, dt / tau_mem
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")


# ----------------------------------------------------------------------------------- report
@dataclass
class QuantReport:
    """Quantisation errors of every parameter (all errors are quantised minus target).

    ``populations[name]``: tau_syn/tau_mem target and effective (ms; effective from the quantised
    decays, ``-dt / ln(factor)``), decays (du, dv Lava values; alpha/beta target and effective),
    ``scale`` (v-LSB per unit V), ``vth``, threshold target/effective (V units), bias target and
    effective (V per step), ``v0`` target/effective (V units), ``psp_gain`` g.
    ``projections[name]``: sign mode, weight_exp, weight max |target|, max and rms absolute error of
    the weights (eventsim units), max relative error (to the largest |w|), counts of clipped weights
    and of non-zero weights that became 0, delay steps and max delay error (ms).
    ``inputs``: filled by ``encode_inputs`` / runs: max input time error (ms), merged/dropped spikes.
    """

    dt: float
    precision: str
    method: str
    populations: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    projections: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    inputs: Dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> Dict[str, Any]:
        return {"dt": self.dt, "precision": self.precision, "method": self.method,
                "populations": self.populations, "projections": self.projections, "inputs": self.inputs}

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "QuantReport":
        return cls(float(d["dt"]), d["precision"], d["method"], d.get("populations", {}), d.get("projections", {}),
                   d.get("inputs", {}))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, default=float)

    def max_weight_rel_error(self) -> float:
        return max((p["w_rel_err_max"] for p in self.projections.values()), default=0.0)

    def table(self) -> str:
        """Human-readable summary (one line per population and per projection)."""
        lines = [f"Loihi mapping: dt = {self.dt} ms, precision {self.precision}, method {self.method}"]
        lines.append(f"{'population':<12} {'tau_syn ms (eff)':>20} {'tau_mem ms (eff)':>20} {'du':>5} {'dv':>5} "
                     f"{'vth':>7} {'thr err':>9} {'bias err/step':>14} {'v0 err':>9}")
        for n, p in self.populations.items():
            lines.append(f"{n:<12} {p['tau_syn']:>9.4g} ({p['tau_syn_eff']:>8.5g}) {p['tau_mem']:>9.4g} "
                         f"({p['tau_mem_eff']:>8.5g}) {p['du']:>5} {p['dv']:>5} {p['vth']:>7} "
                         f"{p['threshold_err']:>9.2e} {p['bias_err']:>14.2e} {p['v0_err']:>9.2e}")
        lines.append(f"{'projection':<16} {'syn':>7} {'sign':>22} {'w_exp':>5} {'|w|max':>8} {'abs err max':>11} "
                     f"{'rms':>9} {'rel max':>8} {'clip':>5} {'->0':>5} {'delay err ms':>12}")
        for n, p in self.projections.items():
            lines.append(f"{n:<16} {p['n_synapses']:>7} {p['sign_mode']:>22} {p['weight_exp']:>5} {p['w_max']:>8.4g} "
                         f"{p['w_abs_err_max']:>11.3e} {p['w_abs_err_rms']:>9.2e} {p['w_rel_err_max']:>8.2%} "
                         f"{p['n_clipped']:>5} {p['n_zeroed']:>5} {p['delay_err_max_ms']:>12.3g}")
        if self.inputs:
            lines.append("inputs: " + ", ".join(f"{k} {v}" for k, v in self.inputs.items()))
        return "\n".join(lines)


# ----------------------------------------------------------------------------------- helpers
def _tau_eff(dt: float, factor: float) -> float:
    if factor <= 0:
        return 0.0
    if factor >= 1:
        return math.inf
    return -dt / math.log(factor)


def _mantissa_caps(mode: str) -> Tuple[int, int, int]:
    """(factor, min mantissa, max mantissa) of Lava's 8-bit weights per sign mode."""
    if mode == "mixed":
        return 2, -128, 127
    if mode == "excitatory":
        return 1, 0, 255
    return 1, -255, 0


def _sign_mode(w: np.ndarray) -> str:
    if w.size == 0 or w.min() >= 0:
        return "excitatory"
    if w.max() <= 0:
        return "inhibitory"
    return "mixed"


def quantize_weights(W: np.ndarray, mode: str, exp_range: Tuple[int, int]) -> Tuple[np.ndarray, int, int]:
    """Lava weight values, weight_exp and the number of clipped weights for real-valued ``W``
    (in a_in units): the smallest exponent in ``exp_range`` whose rounded mantissas fit."""
    f, lo, hi = _mantissa_caps(mode)
    e_min, e_max = int(exp_range[0]), int(exp_range[1])
    for e in range(e_min, e_max + 1):
        m = np.floor(W / (f * 2.0 ** e) + 0.5)
        if W.size == 0 or (m.min() >= lo and m.max() <= hi):
            return (f * m).astype(np.int64), e, 0
    m = np.floor(W / (f * 2.0 ** e_max) + 0.5)
    clipped = int(np.count_nonzero((m < lo) | (m > hi)))
    return (f * np.clip(m, lo, hi)).astype(np.int64), e_max, clipped


def _rest_fixed_point(v_init: int, dv: int, b_eff: int, vmax: int, max_iter: int = 200_000) -> Tuple[int, bool]:
    """Fixed point of ``v <- sat(trunc0(v (4096 - dv) / 4096) + b_eff)`` reached from ``v_init``."""
    v = int(v_init)
    c = DECAY_UNITY - int(dv)
    for _ in range(max_iter):
        p = v * c
        d = -((-p) >> 12) if p < 0 else (p >> 12)
        nv = max(-(UV_MAX - 1), min(UV_MAX - 1, d + b_eff))
        if nv == v:
            return v, True
        if nv > vmax:      # tonic firing: the rest state is above threshold
            return min(int(v_init), vmax), False
        v = nv
    return int(v_init), False


def _disc_peak(a: float, b: float) -> float:
    """Peak over n >= 1 of the discrete unit PSP ``sum_{m=1..n} b^(n-m) a^(m-1)`` (u decay a, v decay b)."""
    if a <= 0 or b <= 0:
        return 1.0 / (1.0 - max(a, b)) if max(a, b) >= 1 else 1.0
    if max(a, b) >= 1:
        return 1.0 / (1.0 - min(a, b))
    tau = -1.0 / math.log(max(a, b))
    n = np.arange(1, int(min(20 * tau + 20, 2_000_000)))
    if abs(a - b) < 1e-15:
        h = n * a ** (n - 1.0)
    else:
        h = (b ** n - a ** n) / (b - a)
    return float(h.max())


def _check_lif_params(name: str, p) -> None:
    if p.dual:
        raise ValueError(f"population {name!r} has two synaptic currents (tau_syn={p.tau_syn!r} ms, tau_syn_inh="
                         f"{p.tau_syn_inh!r} ms): a Loihi compartment has one synaptic current, so only "
                         "tau_syn_inh=None can be mapped (equal time constants are the same model with tau_syn_inh=None)")
    if p.t_ref > 0:
        raise ValueError(f"t_ref of population {name!r} is {p.t_ref!r} ms: Lava's LIF has no fixed-point refractory "
                         "model (LIFRefractory is floating_pt only); only t_ref=0 can be mapped")


# ----------------------------------------------------------------------------------- mapping
def _parts(w: np.ndarray, split_sign: bool):
    """Synapse masks and sign modes: one part, or (excitatory, inhibitory) for a split mixed projection."""
    mode = _sign_mode(w)
    if split_sign and mode == "mixed":
        return [("[+]", w >= 0, "excitatory"), ("[-]", w < 0, "inhibitory")]
    return [("", np.ones(w.size, dtype=bool), mode)]


def _weight_sq_error(incoming, target: float, split_sign: bool, exp_range) -> float:
    """Sum over incoming projections of the mean squared weight error relative to max |w|."""
    tot = 0.0
    for pr in incoming:
        w = pr.weights
        if w.size == 0 or not np.any(w):
            continue
        err = np.zeros(w.size)
        for _, m, mode in _parts(w, split_sign):
            vals, e, _ = quantize_weights(w[m] * target, mode, exp_range)
            err[m] = vals * 2.0 ** e / target - w[m]
        tot += float(np.mean(err ** 2)) / float(np.abs(w).max()) ** 2
    return tot


def quantize(net: Network, dt: float, *, precision: str = "fixed", method: str = "exact", headroom: float = 4.0,
             weight_exp_range: Tuple[int, int] = DEFAULT_WEIGHT_EXP_RANGE, split_sign: bool = True,
             psp_match: str = "peak", calibration=None, margin: float = 2.0, bias_exp: Optional[int] = None,
             readout_range: Optional[float] = None, max_delay: int = MAX_DELAY,
             require_zero_v0: bool = False) -> LoihiNet:
    """Map ``net`` (continuous time, ms) to a discrete-time ``LoihiNet`` with step ``dt`` ms.

    Args:
        net: an eventsim Network.
        dt: time step (ms), > 0.
        precision: ``'fixed'`` (Lava fixed_pt / Loihi) or ``'float'`` (Lava floating_pt; the same
            discrete model without quantisation).
        method: ``'exact'`` (exact sampling of the continuous model) or ``'euler'`` (NIR/Norse).
        headroom: the threshold sits at ``2**23 / headroom`` or lower, leaving room for larger
            voltages and currents before 24-bit saturation/wrap-around.
        weight_exp_range: allowed ``weight_exp`` values (default -8..7). ``(0, 0)`` gives plain
            8-bit integer weights (what lava-dl netx files hold).
        split_sign: map a mixed-sign projection to two Lava connections (excitatory and
            inhibitory part, each 8-bit magnitude with its own exponent) instead of one MIXED
            connection (even values, 7-bit magnitude): one more bit of weight precision for the
            same synapses.
        psp_match: ``'peak'`` (default): with the quantised 12-bit decays, scale the synaptic gain
            ``g`` so that the peak of every PSP stays that of the exact discretisation (the decays
            change only the PSP's shape); ``'none'``: keep ``g`` of the exact decays.
        calibration: ``(inputs, t_max_ms)``: run the float model of the same discretisation on these
            inputs, take per population the largest |u| and |v| reached (v before reset included)
            and choose the scale so that ``margin`` times that fits in 24 bits (instead of the
            fixed ``headroom`` rule). Gives the finest voltage resolution the data allow.
        margin: safety factor of the calibration (>= 1).
        bias_exp: force the bias exponent (netx uses 6); default: the smallest that fits.
        readout_range: for non-spiking read-outs (``v_th = inf``): the |V| (eventsim units) that
            must stay below the unreachable threshold; default from the weights.
        max_delay: largest delay in steps (63: Lava/Loihi 2; netx: 62).
        require_zero_v0: raise if a population would need a non-zero initial voltage
            (``v_leak != v_reset``; formats without an initial voltage).

    Returns:
        LoihiNet with ``.report`` (QuantReport). Raises ValueError naming the parameter that
        cannot be mapped (``t_ref > 0``, delays beyond ``max_delay``, a bias beyond 13+3 bits, ...).
    """
    if not isinstance(net, Network):
        raise ValueError(f"net must be an eventsim Network, got {type(net).__name__}")
    dt = positive_ms("dt", dt)
    if precision not in ("fixed", "float"):
        raise ValueError(f"precision must be 'fixed' or 'float', got {precision!r}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if psp_match not in ("peak", "none"):
        raise ValueError(f"psp_match must be 'peak' or 'none', got {psp_match!r}")
    try:
        headroom = float(headroom)
    except (TypeError, ValueError):
        raise ValueError(f"headroom must be a number >= 1, got {headroom!r}") from None
    if not (math.isfinite(headroom) and headroom >= 1):
        raise ValueError(f"headroom must be >= 1, got {headroom!r}")
    e_lo, e_hi = (int(x) for x in weight_exp_range)
    if e_lo > e_hi:
        raise ValueError(f"weight_exp_range must be (low, high) with low <= high, got {weight_exp_range!r}")
    if bias_exp is not None and not BIAS_EXP_MIN <= int(bias_exp) <= BIAS_EXP_MAX:
        raise ValueError(f"bias_exp must be in [{BIAS_EXP_MIN}, {BIAS_EXP_MAX}], got {bias_exp!r}")
    if not 0 <= int(max_delay) <= MAX_DELAY:
        raise ValueError(f"max_delay must be in [0, {MAX_DELAY}], got {max_delay!r}")

    cal_range: Dict[str, float] = {}
    if calibration is not None and precision == "fixed":
        try:
            cal_inputs, cal_tmax = calibration
        except (TypeError, ValueError):
            raise ValueError("calibration must be a pair (inputs, t_max_ms)") from None
        if not (math.isfinite(margin) and margin >= 1):
            raise ValueError(f"margin must be >= 1, got {margin!r}")
        from .emulator import emulate, lif_offsets

        fnet = quantize(net, dt, precision="float", method=method, max_delay=max_delay)
        cres = emulate(fnet, cal_inputs, t_max=cal_tmax, track_stats=True)
        for pname, (o, n) in lif_offsets(fnet).items():
            fp = fnet.populations[pname]
            um = float(cres.umax[:, o:o + n].max()) if cres.n_samples else 0.0
            vlo = float(-cres.vmin[:, o:o + n].min()) if cres.n_samples else 0.0
            vhi = float(cres.vmax[:, o:o + n].max()) if cres.n_samples else 0.0
            th = fp.vth if math.isfinite(fp.vth) else vhi
            bias = float(np.abs(fp.bias_mant).max()) if fp.size else 0.0
            cal_range[pname] = max(th + um + bias, vlo, vhi, um, 1e-300)
        cal_margin = float(margin)

    lnet = LoihiNet(precision, dt)
    lnet.method = method
    rep = QuantReport(dt, precision, method)
    fixed = precision == "fixed"
    split = bool(split_sign) and fixed
    specs: Dict[str, Tuple[float, float]] = {}
    for name, pr in net.projections.items():
        if pr.delays is not None and pr.n_synapses:
            st = np.floor(pr.delays / dt + 0.5).astype(np.int64)
            if st.max() > max_delay:
                raise ValueError(f"delays of projection {name} reach {pr.delays.max()!r} ms = {int(st.max())} steps of "
                                 f"dt={dt} ms; Loihi allows at most {max_delay} steps (6-bit delays): raise dt or "
                                 "shorten the delays")

    # ------------------------------------------------------------------ populations
    for name, pop in net.populations.items():
        if pop.is_input:
            lnet.add_input(name, pop.size)
            continue
        p = pop.params
        _check_lif_params(name, p)
        alpha, beta, g, bgain = discretise(dt, p.tau_syn, p.tau_mem, method)
        spiking = p.spiking
        x_th = (p.v_th - p.v_reset) if spiking else math.inf
        x_l = p.v_leak - p.v_reset
        x0 = min(x_l, x_th) if spiking else x_l
        incoming = [pr for pr in net.projections.values() if pr.dst == name]
        if not fixed:
            lnet.add_lif(name, pop.size, 1.0 - alpha, 1.0 - beta, x_th if spiking else math.inf, bgain * x_l, 0, x0,
                         spiking, 1.0, p.v_reset)
            specs[name] = (1.0, g)
            rep.populations[name] = {
                "size": pop.size, "tau_syn": p.tau_syn, "tau_syn_eff": _tau_eff(dt, alpha), "tau_mem": p.tau_mem,
                "tau_mem_eff": _tau_eff(dt, beta), "alpha": alpha, "alpha_eff": alpha, "beta": beta, "beta_eff": beta,
                "du": 1.0 - alpha, "dv": 1.0 - beta, "scale": 1.0, "v_lsb": 0.0, "vth": x_th,
                "threshold": x_th, "threshold_eff": x_th, "threshold_err": 0.0, "bias": bgain * x_l,
                "bias_eff": bgain * x_l, "bias_err": 0.0, "bias_mant": bgain * x_l, "bias_exp": 0, "v0": x0,
                "v0_eff": x0, "v0_err": 0.0, "rest_stationary": True, "psp_gain": g, "spiking": spiking}
            continue
        Du = int(min(max(round(DECAY_UNITY * (1.0 - alpha)), 1), DECAY_UNITY))
        Dv = int(min(max(round(DECAY_UNITY * (1.0 - beta)), 0), DECAY_UNITY - 1))
        du_l, dv_l = Du - 1, Dv
        alpha_q, beta_q = (DECAY_UNITY - Du) / DECAY_UNITY, (DECAY_UNITY - Dv) / DECAY_UNITY
        g_exact = g
        if psp_match == "peak":
            # the 12-bit decays change the PSP shape; keep its peak: scale g by peak(exact)/peak(quantised)
            g = g_exact * _disc_peak(alpha, beta) / _disc_peak(alpha_q, beta_q)
        # ---- scale S (v-LSB per unit of V): upper bounds from weights (largest exponent), bias, v0
        caps = [(math.inf, "")]
        for pr in incoming:
            if pr.n_synapses == 0 or not np.any(pr.weights):
                continue
            for _, m, mode in _parts(pr.weights, split):
                f, lo, hi = _mantissa_caps(mode)
                w = pr.weights[m]
                for wm, cap in ((max(float(w.max()), 0.0), hi), (max(float(-w.min()), 0.0), -lo)):
                    if wm > 0 and cap > 0:
                        caps.append((64.0 * (cap + 0.49) * f * 2.0 ** e_hi / (g * wm),
                                     f"weights of projection {pr.name} (max |w| {wm:.4g}) are too large relative to "
                                     f"the threshold of {name!r} to fit 8-bit weights with weight_exp <= {e_hi}"))
        if x_l != 0:
            b_max = (BIAS_MANT_MAX + 0.49) * 2.0 ** (BIAS_EXP_MAX if bias_exp is None else int(bias_exp))
            why = (f"v_leak of population {name!r}: v_leak - v_reset = {x_l!r} is too large relative to the threshold "
                   f"for Loihi's 13-bit bias and 24-bit voltage")
            caps.append((b_max / (bgain * abs(x_l)) if bgain > 0 else math.inf, why))
            caps.append(((UV_MAX - 1) / abs(x_l), why))
        s_cap, s_why = min(caps, key=lambda c: c[0])
        if name in cal_range and (UV_MAX - 1) / (cal_margin * cal_range[name]) < s_cap:
            s_cap = (UV_MAX - 1) / (cal_margin * cal_range[name])
            s_why = f"the calibrated voltage range of population {name!r} is too large relative to its threshold"
        if spiking:
            vth_cap = int(min(VTH_MAX, math.floor(s_cap * x_th / 64.0),
                              math.inf if name in cal_range else 2 ** 17 / headroom))
            if vth_cap < 1:
                raise ValueError(f"cannot map population {name!r} (v_th - v_reset = {x_th!r}): {s_why}")
            # mantissa filling: among vth in (vth_cap/2, vth_cap] where some weight part uses its
            # full mantissa, take the one with the smallest weight error
            cands = {vth_cap}
            for pr in incoming:
                if pr.n_synapses == 0 or not np.any(pr.weights):
                    continue
                for _, m, mode in _parts(pr.weights, split):
                    f, lo, hi = _mantissa_caps(mode)
                    wm = float(np.abs(pr.weights[m]).max())
                    cap = hi if mode != "inhibitory" else -lo
                    if mode == "mixed":
                        cap = min(hi, -lo)
                    for e in range(e_lo, e_hi + 1):
                        v = int(math.floor((cap + 0.49) * f * 2.0 ** e * x_th / (g * wm)))
                        if vth_cap // 2 < v <= vth_cap:
                            cands.add(v)
            if len(cands) > 1 and incoming:
                vth = min(sorted(cands, reverse=True),
                          key=lambda v: _weight_sq_error(incoming, g * v / x_th, split, (e_lo, e_hi)))
            else:
                vth = vth_cap
            S = 64.0 * vth / x_th
        else:
            vth = VTH_MAX
            if name in cal_range and readout_range is None:
                R = cal_range[name] * cal_margin / headroom
            elif readout_range is None:
                tot = 0.0
                for pr in incoming:
                    if pr.n_synapses:
                        tot = max(tot, float(np.abs(pr.to_dense()).sum(axis=1).max()))
                R = max(1.0, tot * psp_peak(p.tau_mem, p.tau_syn), abs(x_l))
            else:
                R = float(readout_range)
                if not (math.isfinite(R) and R > 0):
                    raise ValueError(f"readout_range must be positive, got {readout_range!r}")
            S = min((VTH_MAX << 6) / (headroom * R), s_cap)
        # ---- bias and rest state
        b_target = S * bgain * x_l            # v-LSB per step
        if bias_exp is not None:
            bexp = int(bias_exp)
        else:
            bexp = BIAS_EXP_MIN
            while bexp < BIAS_EXP_MAX and abs(math.floor(b_target / 2 ** bexp + 0.5)) > BIAS_MANT_MAX:
                bexp += 1
        bmant = int(math.floor(b_target / 2 ** bexp + 0.5))
        if not BIAS_MANT_MIN <= bmant <= BIAS_MANT_MAX:
            raise ValueError(f"v_leak of population {name!r} needs a bias of {b_target:.4g} v-LSB per step, beyond "
                             f"Loihi's 13-bit mantissa with exponent {bexp}: v_leak - v_reset = {x_l!r} is too large "
                             "for this threshold and dt")
        b_eff = bmant << bexp
        vlim = (vth << 6) if spiking else UV_MAX - 1
        v_init = int(max(-(UV_MAX - 1), min(math.floor(S * x0 + 0.5), vlim)))
        v0, rest_ok = _rest_fixed_point(v_init, Dv, b_eff, vlim)
        if require_zero_v0 and v0 != 0:
            raise ValueError(f"v_leak of population {name!r} differs from v_reset ({p.v_leak!r} vs {p.v_reset!r}): "
                             "this format has no initial voltage (Lava starts at v = 0)")
        lnet.add_lif(name, pop.size, du_l, dv_l, vth, bmant, bexp, v0, spiking, S, p.v_reset)
        specs[name] = (S, g)
        thr_eff = (vth << 6) / S if spiking else math.inf
        rep.populations[name] = {
            "size": pop.size, "tau_syn": p.tau_syn, "tau_syn_eff": _tau_eff(dt, alpha_q),
            "tau_mem": p.tau_mem, "tau_mem_eff": _tau_eff(dt, beta_q), "alpha": alpha, "alpha_eff": alpha_q,
            "beta": beta, "beta_eff": beta_q, "du": du_l, "dv": dv_l, "scale": S, "v_lsb": 1.0 / S, "vth": vth,
            "threshold": x_th, "threshold_eff": thr_eff, "threshold_err": (thr_eff - x_th) if spiking else 0.0,
            "bias": bgain * x_l, "bias_eff": b_eff / S, "bias_err": b_eff / S - bgain * x_l,
            "bias_mant": bmant, "bias_exp": bexp, "v0": x0, "v0_eff": v0 / S, "v0_err": v0 / S - x0,
            "rest_stationary": bool(rest_ok), "psp_gain": g, "psp_gain_exact": g_exact, "spiking": spiking}

    # ------------------------------------------------------------------ projections
    for pname, pr in net.projections.items():
        S, g = specs[pr.dst]
        target = g * S / 64.0 if fixed else g        # a_in units per unit weight
        w = pr.weights
        d_steps = None
        d_err = 0.0
        if pr.delays is not None and pr.n_synapses:
            d_steps = np.floor(pr.delays / dt + 0.5).astype(np.int64)
            d_err = float(np.abs(d_steps * dt - pr.delays).max())
            if not np.any(d_steps):
                d_steps = None
        pre = pr.pre_indices()
        w_q = np.zeros(w.size)
        vals_all = np.zeros(w.size)
        parts_rep, n_clip = [], 0
        for tag, m, mode in (_parts(w, split) if fixed else [("", np.ones(w.size, dtype=bool), None)]):
            if fixed:
                vals, e, c = quantize_weights(w[m] * target, mode, (e_lo, e_hi))
                w_q[m] = vals * 2.0 ** e / target
                n_clip += c
                lsb = float(_mantissa_caps(mode)[0] * 2.0 ** e / target)
            else:
                vals, e, lsb = w[m] * target, 0, 0.0
                w_q[m] = w[m]
            vals_all[m] = vals
            if tag and not np.any(m):
                continue
            sel = np.flatnonzero(m)
            indptr = np.zeros(pr.n_pre + 1, dtype=np.int64)
            np.cumsum(np.bincount(pre[sel], minlength=pr.n_pre), out=indptr[1:])
            lp = LoihiProjection(pr.src, pr.dst, pr.n_pre, pr.n_post, indptr, pr.indices[sel].astype(np.int64), vals,
                                 int(e), 8, mode, None if d_steps is None else d_steps[sel], tag)
            lp.source_weights = w[sel].copy()
            lnet.add_projection(lp)
            parts_rep.append({"part": tag, "sign_mode": mode or "float", "weight_exp": int(e), "n_synapses": int(sel.size),
                              "w_lsb": lsb})
        err = w_q - w
        wmax = float(np.abs(w).max()) if w.size else 0.0
        rep.projections[pname] = {
            "n_synapses": pr.n_synapses, "sign_mode": "+".join(q["sign_mode"] for q in parts_rep) or "-",
            "weight_exp": int(max((q["weight_exp"] for q in parts_rep), default=0)), "parts": parts_rep,
            "w_max": wmax, "w_lsb": max((q["w_lsb"] for q in parts_rep), default=0.0),
            "w_abs_err_max": float(np.abs(err).max()) if err.size else 0.0,
            "w_abs_err_rms": float(np.sqrt(np.mean(err ** 2))) if err.size else 0.0,
            "w_rel_err_max": float(np.abs(err).max() / wmax) if (err.size and wmax > 0) else 0.0,
            "n_clipped": n_clip, "n_zeroed": int(np.count_nonzero((w != 0) & (vals_all == 0))),
            "max_delay_steps": int(d_steps.max()) if d_steps is not None else 0, "delay_err_max_ms": d_err,
            "negative_exp_floor": bool(fixed and any(q["weight_exp"] < 0 for q in parts_rep))}
    lnet.report = rep
    lnet.provenance = {"dt_ms": dt, "precision": precision, "method": method, "headroom": headroom,
                       "weight_exp_range": [e_lo, e_hi], "split_sign": split, "psp_match": psp_match,
                       "calibrated": bool(cal_range), "margin": margin if cal_range else None}
    return lnet
