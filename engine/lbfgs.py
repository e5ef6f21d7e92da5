"""L-BFGS for one image, one step per call and no line search, in compact form.

It takes the steps ``torch.optim.LBFGS(lr=1, max_iter=1)`` takes (the same history rule, the same
initial scaling gamma = s'y / y'y, the same first step), computed differently: the curvature
pairs live in two matrices, and a direction is two matrix products over them plus a small solve on
the host (Byrd, Nocedal & Schnabel 1994; Nocedal & Wright eq. 7.24):

    H g = gamma g + S p - gamma Y u,   u = R^-1 S'g,   p = R^-T ((D + gamma Y'Y) u - gamma Y'g)

with R the upper triangle of S'Y and D its diagonal. torch's two-loop recursion runs 4 vector
operations per stored pair, each of which waits for a GPU (its step sizes are read back to the host):
at 512 px on an H100 that was most of an iteration. Here a step reads the history twice and the host
waits once.

One addition: a step after which the loss grew ``BLOW_UP`` fold is taken back to a quarter of its
length before the next evaluation (the pair it would give is not stored). Without a line search,
a tiny image's first curvature estimates can send a step far out (the 64 px selftest once went
from a loss of ~1e2 to 7e7 in one step); this is the cheapest backtracking that needs no extra
evaluation.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

BLOW_UP = 4.0  # a loss this many times the last one marks a step to take back
BACKTRACK = 0.25  # how much of such a step is kept
MIN_CURVATURE = 1e-10  # pairs with s'y at or below this are not stored (as torch.optim.LBFGS)
MIN_GRADIENT = 1e-7  # a gradient this small everywhere ends the step (tolerance_grad)
MIN_DESCENT = 1e-9  # a direction whose slope g'd is above -this is not taken (tolerance_change)


class LBFGS:
    """Minimises a closure over ``x`` (any shape or layout), one evaluation per ``step``."""

    def __init__(self, x: torch.Tensor, history: int = 50):
        self.x = x
        self.history = max(1, history)
        n = x.numel()
        # one row more than the history: the step just taken waits in a free row for its gradient
        self.S = torch.zeros((self.history + 1, n), device=x.device, dtype=torch.float32)
        self.Y = torch.zeros_like(self.S)
        self.direction = torch.empty(n, device=x.device, dtype=torch.float32)  # not a row: S[:used] is read into it
        self.order: list[int] = []  # rows of the stored pairs, oldest first
        self.rows_used = 0  # rows are taken lowest first: only S[:rows_used] has ever held a step
        self.SY = torch.zeros((self.history + 1, self.history + 1), dtype=torch.float64)  # s_i'y_j by row
        self.YY = torch.zeros_like(self.SY)
        self.gamma = 1.0
        self.pending: int | None = None  # row of the last step, whose pair needs the next gradient
        self.previous_gradient: torch.Tensor | None = None
        self.previous_loss = math.inf
        self.steps = 0
        self.backtracks = 0

    def zero_grad(self, set_to_none: bool = True) -> None:
        if set_to_none:
            self.x.grad = None
        elif self.x.grad is not None:
            self.x.grad.zero_()

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor]) -> torch.Tensor:
        with torch.enable_grad():
            loss = closure()
        g = self.x.grad.detach().reshape(-1).float()
        y = None
        if self.pending is not None:
            y = self.Y[self.pending]
            torch.sub(g, self.previous_gradient, out=y)
        figures = self._read_back(loss.detach(), g, y)
        if self.pending is not None and self._blew_up(figures["loss"]):
            self._take_back()
            return loss
        self.steps += 1
        if figures["max_abs_g"] <= MIN_GRADIENT:
            return loss
        if y is not None:
            self._store_pair(figures)
        coefficients, slope = self._direction_coefficients(figures)
        if slope > -MIN_DESCENT:
            return loss
        d = self.direction
        torch.mul(g, -self.gamma, out=d)
        if self.order:
            used = self.rows_used
            s_coef, y_coef = (c[:used].to(d.device, torch.float32) for c in coefficients)
            d.addmv_(self.S[:used].T, s_coef)
            d.addmv_(self.Y[:used].T, y_coef)
        if self.steps == 1:
            d.mul_(min(1.0, 1.0 / figures["l1_g"]))  # the first step: steepest descent, scaled down
        row = self._free_row()
        self.S[row].copy_(d)
        self.x.add_(d.view(self.x.shape))
        self.pending = row
        self.rows_used = max(self.rows_used, row + 1)
        if self.previous_gradient is None:
            self.previous_gradient = g.clone()
        else:
            self.previous_gradient.copy_(g)
        self.previous_loss = figures["loss"]
        return loss

    # --- one step's parts ------------------------------------------------------------------
    def _read_back(self, loss: torch.Tensor, g: torch.Tensor, y: torch.Tensor | None) -> dict:
        """Everything the host needs this step, in one transfer: S'g, Y'g, and with a new pair
        S'y, Y'y; then g'g, max|g|, sum|g| and the loss."""
        vectors = torch.stack((g, y)) if y is not None else g[None]
        rows, k = self.rows_used, vectors.shape[0]
        products = [self.S[:rows] @ vectors.T, self.Y[:rows] @ vectors.T]
        norms = torch.stack((g.dot(g), g.abs().max(), g.abs().sum(), loss.float()))
        flat = torch.cat([p.reshape(-1) for p in products] + [norms]).double().cpu()
        sv = torch.zeros((self.history + 1, k), dtype=torch.float64)
        yv = torch.zeros_like(sv)
        sv[:rows], yv[:rows] = flat[: rows * k].view(rows, k), flat[rows * k : 2 * rows * k].view(rows, k)
        gg, max_abs_g, l1_g, loss_value = flat[2 * rows * k :].tolist()
        figures = {"Sg": sv[:, 0], "Yg": yv[:, 0], "gg": gg, "max_abs_g": max_abs_g, "l1_g": l1_g, "loss": loss_value}
        if y is not None:
            figures.update(Sy=sv[:, 1], Yy=yv[:, 1])
        return figures

    def _store_pair(self, figures: dict) -> None:
        row = self.pending
        self.pending = None
        Sy, Yy = figures["Sy"], figures["Yy"]
        ys, yy = float(Sy[row]), float(Yy[row])
        if not ys > MIN_CURVATURE:
            return  # the row stays free; the next step overwrites it
        if len(self.order) == self.history:
            self.order.pop(0)
        self.order.append(row)
        self.SY[:, row] = Sy  # s_i'y_new for every row i
        self.YY[:, row] = Yy
        self.YY[row, :] = Yy
        self.gamma = ys / yy

    def _direction_coefficients(self, figures: dict):
        """Coefficients of S's and Y's rows in -H g (the gamma g term apart), and the slope g'd."""
        gamma, gg = self.gamma, figures["gg"]
        if not self.order:
            return None, -gamma * gg
        order = torch.tensor(self.order)
        a, b = figures["Sg"][order], figures["Yg"][order]
        upper = self.SY[order][:, order].triu()
        D = torch.diag(upper.diagonal())
        YY = self.YY[order][:, order]
        u = torch.linalg.solve_triangular(upper, a[:, None], upper=True)
        p = torch.linalg.solve_triangular(upper.T, (D + gamma * YY) @ u - gamma * b[:, None], upper=False)
        # -H g = -gamma g - S p + gamma Y u
        s_coef = torch.zeros(self.history + 1, dtype=torch.float64)
        y_coef = torch.zeros(self.history + 1, dtype=torch.float64)
        s_coef[order] = -p[:, 0]
        y_coef[order] = gamma * u[:, 0]
        slope = -gamma * gg + float(s_coef[order] @ a) + float(y_coef[order] @ b)
        return (s_coef, y_coef), slope

    def _blew_up(self, value: float) -> bool:
        before = self.previous_loss
        return not value <= before + (BLOW_UP - 1) * abs(before)  # NaN counts as blown up

    def _free_row(self) -> int:
        used = set(self.order)
        return next(row for row in range(self.history + 1) if row not in used)

    def _take_back(self) -> None:
        """The last step made the loss blow up: go back to a quarter of it and evaluate there."""
        s = self.S[self.pending]
        self.x.sub_(s.mul(1 - BACKTRACK).view(self.x.shape))
        s.mul_(BACKTRACK)
        self.backtracks += 1
