"""Checks for notebook 06 — basic neural networks for photometry (MLP, LSTM with packing, focal loss, loops).

Every check builds its own small padded batches (``x`` (B, T, F), bool ``mask`` True on the first ``length`` steps)
and compares the learner's code with a reference computed here: the models against their *own* layers run on each
sequence without padding, the loss against a float64 formula, the loops against a reference loop on a copy of the
same model. Padded steps of the inputs hold zeros or deliberate garbage, so anything that reads them shows.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from exowavenet_lib.checks._core import attempt, check, expect, show


def _brief(value) -> str:
    """A one-line, short description of a value (tensors by shape and a few numbers)."""
    if isinstance(value, torch.Tensor):
        flat = value.detach().flatten()[:6].tolist()
        numbers = [round(v, 4) if isinstance(v, float) else v for v in flat]
        return f"tensor of shape {tuple(value.shape)} {value.dtype}, first values {numbers}"
    return " ".join(show(value).split())[:100]


def _col0(value) -> str:
    """Column 0 of a (B, C) tensor, rounded, for messages (anything else briefly)."""
    if isinstance(value, torch.Tensor) and value.dim() == 2:
        return str([round(v, 4) for v in value[:, 0].tolist()])
    return _brief(value)


def _padded(seqs: list[torch.Tensor], length: int | None = None, garbage: bool = False) -> tuple:
    """Pad (T_i, F) sequences into ``x`` (B, T, F) and ``mask`` (B, T); padding is zeros or large random junk."""
    n_steps = length or max(len(s) for s in seqs)
    n_features = seqs[0].shape[1]
    gen = torch.Generator().manual_seed(99)
    x = torch.zeros(len(seqs), n_steps, n_features)
    if garbage:
        x = 5.0 + 3.0 * torch.randn(len(seqs), n_steps, n_features, generator=gen)
    mask = torch.zeros(len(seqs), n_steps, dtype=torch.bool)
    for i, s in enumerate(seqs):
        x[i, : len(s)] = s
        mask[i, : len(s)] = True
    return x, mask


def _sequences(lengths: list[int], n_features: int, seed: int) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(n, n_features, generator=gen) for n in lengths]


def _ref_masked_mean(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return torch.stack([h[i, mask[i]].mean(dim=0) for i in range(h.shape[0])])


def _close(a, b, atol: float = 1e-5) -> bool:
    return (isinstance(a, torch.Tensor) and a.shape == b.shape
            and bool(torch.allclose(a.detach().double(), b.detach().double(), atol=atol, rtol=1e-4)))


def _n_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# ---------------------------------------------------------------------------------------------------------- 1a


@check("06", "1a", hint="Turn the mask into weights of the right shape: `m = mask.unsqueeze(-1).to(h.dtype)` is "
       "(B, T, 1) with 1 on real steps. The sum over real steps is `(h * m).sum(dim=1)` and their number "
       "`m.sum(dim=1)` (B, 1) — clamp it to at least 1 to avoid 0/0. Never divide by T = h.shape[1], and don't write "
       "into h (h[~mask] = 0 changes the caller's tensor).")
def q1a(masked_mean):
    """masked_mean(h, mask): the mean over valid steps only, (B, D); padding, T and the input are left alone."""
    seqs = _sequences([5, 2, 1, 4], 3, seed=1)
    h, mask = _padded(seqs, garbage=True)
    h_before = h.clone()
    got = attempt(masked_mean, h, mask)
    expect(isinstance(got, torch.Tensor), "a torch.Tensor", _brief(got))
    expect(tuple(got.shape) == (4, 3), "shape (4, 3) = (batch, features) for h of shape (4, 5, 3)", _brief(got))
    expect(torch.equal(h, h_before), "h left unchanged (compute a new tensor; don't zero the padding in place)",
           "h was modified")
    want = torch.stack([s.mean(dim=0) for s in seqs])
    expect(_close(got, want), "each row = the plain mean of that sequence's own steps, h[i, :length_i].mean(0) "
           f"(lengths 5, 2, 1, 4; padding holds junk): {_col0(want)} in feature 0",
           f"{_col0(got)} in feature 0")
    x_long, mask_long = _padded(seqs, length=9)
    expect(_close(masked_mean(x_long, mask_long), want),
           "the same result when the batch is padded with zeros to T = 9 instead of 5", "a different result")
    hg = h.clone().requires_grad_(True)
    masked_mean(hg, mask).sum().backward()
    grad = hg.grad
    expect(grad is not None and float(grad[~mask].abs().max()) == 0.0,
           "zero gradient on padded steps (they must not influence the output)",
           "no gradient" if grad is None else f"a gradient of up to {float(grad[~mask].abs().max()):.3g} there")
    return "the mean over real steps only; padding, T and the input tensor are ignored"


# ---------------------------------------------------------------------------------------------------------- 1b


@check("06", "1b", hint="In __init__ (after super().__init__()): self.encoder = nn.Sequential(nn.Linear(n_features, "
       "hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout)) and "
       "self.head = nn.Linear(hidden, n_classes). In forward: h = self.encoder(x) (the Linear layers act on the last "
       "axis, so every step is encoded alone), pooled = masked_mean(h, mask), return self.head(pooled) — raw logits, "
       "no softmax.")
def q1b(SimplePhotometryMLP):
    """SimplePhotometryMLP: encoder per step, masked mean, head; logits (B, C) independent of the padding."""
    torch.manual_seed(0)
    model = attempt(SimplePhotometryMLP, 5, 3, hidden=16, dropout=0.0)
    expect(isinstance(model, nn.Module), "an nn.Module", _brief(model))
    encoder, head = getattr(model, "encoder", None), getattr(model, "head", None)
    expect(isinstance(encoder, nn.Module) and isinstance(head, nn.Linear),
           "attributes self.encoder (the per-step MLP) and self.head (an nn.Linear)",
           f"encoder={type(encoder).__name__}, head={type(head).__name__}")
    n_params = _n_parameters(model)
    expect(n_params == 419, "419 parameters for n_features=5, n_classes=3, hidden=16 (5·16+16 + 16·16+16 + 16·3+3: "
           "two hidden Linear layers and the head)", f"{n_params} parameters")
    model.eval()
    seqs = _sequences([7, 3, 1, 5], 5, seed=2)
    x, mask = _padded(seqs)
    with torch.no_grad():
        out = model(x, mask)
        want = model.head(_ref_masked_mean(model.encoder(x), mask))
    expect(isinstance(out, torch.Tensor) and tuple(out.shape) == (4, 3), "logits of shape (4, 3) = (batch, classes)",
           _brief(out))
    expect(_close(out, want), "self.head(masked mean of self.encoder(x) over the valid steps) — raw logits: "
           f"{_col0(want)} for class 0", _col0(out))
    with torch.no_grad():
        longer = model(*_padded(seqs, length=12))
        junk = model(*_padded(seqs, garbage=True))
        alone = model(*_padded(seqs[1:2]))
    expect(_close(longer, want), "the same logits when the batch is padded to T = 12 instead of 7 (padding must not "
           "count)", f"class-0 logits {_col0(longer)}")
    expect(_close(junk, want), "the same logits whatever the padded steps hold", f"class-0 logits {_col0(junk)}")
    expect(_close(alone, want[1:2]), "a light curve's logits not to depend on the rest of the batch",
           f"{_brief(alone)} alone vs {_brief(want[1:2])} in the batch")
    torch.manual_seed(1)
    noisy = SimplePhotometryMLP(5, 3, hidden=16, dropout=0.5)
    noisy.train()
    a, b = noisy(x, mask), noisy(x, mask)
    expect(not torch.allclose(a, b), "dropout=0.5 to make two forward passes in train mode differ (use the dropout "
           "argument in both hidden layers)", "identical outputs")
    noisy.eval()
    with torch.no_grad():
        expect(torch.equal(noisy(x, mask), noisy(x, mask)), "identical outputs in eval mode", "different outputs")
    return "per-step encoder, masked mean pooling and a linear head: 419 parameters, logits independent of padding"


# ---------------------------------------------------------------------------------------------------------- 2a


def _rnn_reference(model: nn.Module, seqs: list[torch.Tensor]) -> torch.Tensor:
    """Logits from the model's own rnn and head, run on each sequence alone (no padding at all)."""
    rows = []
    for s in seqs:
        _, state = model.rnn(s.unsqueeze(0))
        h_n = state[0] if isinstance(model.rnn, nn.LSTM) else state
        rows.append(model.head(h_n[-1]))
    return torch.cat(rows)


@check("06", "2a", hint="In __init__: rnn_class = nn.GRU if cell == 'gru' else nn.LSTM; self.rnn = rnn_class("
       "n_features, hidden_size, num_layers=num_layers, batch_first=True); self.head = nn.Linear(hidden_size, "
       "n_classes). In forward: lengths = mask.sum(dim=1).cpu(); packed = pack_padded_sequence(x, lengths, "
       "batch_first=True, enforce_sorted=False); _, state = self.rnn(packed); an LSTM returns state = (h_n, c_n), a "
       "GRU h_n alone; h_n has shape (num_layers, B, hidden): classify h_n[-1], the last layer — PyTorch has already "
       "put the rows back in batch order.")
def q2a(LightCurveLSTM):
    """LightCurveLSTM: packed sequences, last layer's final hidden state, GRU option; padding-invariant logits."""
    torch.manual_seed(3)
    model = attempt(LightCurveLSTM, 5, 3, hidden_size=8, num_layers=2)
    rnn = getattr(model, "rnn", None)
    expect(isinstance(rnn, nn.LSTM), "self.rnn to be an nn.LSTM for the default cell='lstm'", type(rnn).__name__)
    expect(rnn.batch_first and rnn.hidden_size == 8 and rnn.num_layers == 2 and rnn.input_size == 5,
           "nn.LSTM(n_features=5, hidden_size=8, num_layers=2, batch_first=True)",
           f"input_size={rnn.input_size}, hidden_size={rnn.hidden_size}, num_layers={rnn.num_layers}, "
           f"batch_first={rnn.batch_first}")
    expect(isinstance(getattr(model, "head", None), nn.Linear), "self.head, an nn.Linear(hidden_size, n_classes)",
           type(getattr(model, "head", None)).__name__)
    model.eval()
    same = _sequences([6, 6, 6, 6], 5, seed=4)
    with torch.no_grad():
        out = model(*_padded(same))
        full_output, _ = model.rnn(torch.stack(same))
        want = model.head(full_output[:, -1])
    expect(isinstance(out, torch.Tensor) and tuple(out.shape) == (4, 3), "logits of shape (4, 3) = (batch, classes)",
           _brief(out))
    expect(_close(out, want), "on a batch without padding, self.head(final hidden state of the last layer) — equal "
           f"to the unpacked run: class-0 logits {_col0(want)}", _col0(out))
    seqs = _sequences([3, 7, 1, 5, 7, 2], 5, seed=5)  # unsorted, with ties and a length-1 sequence
    x, mask = _padded(seqs)
    x_before = x.clone()
    with torch.no_grad():
        out = model(x, mask)
        want = _rnn_reference(model, seqs)
    expect(torch.equal(x, x_before), "x left unchanged", "x was modified")
    expect(_close(out, want), "each row's logits from the hidden state after its own last valid step, rows in the "
           f"input order (lengths 3, 7, 1, 5, 7, 2, unsorted): class-0 logits {_col0(want)}",
           _col0(out))
    with torch.no_grad():
        longer = model(*_padded(seqs, length=11))
        junk = model(*_padded(seqs, garbage=True))
    expect(_close(longer, want), "the same logits when padded to T = 11 instead of 7", _col0(longer))
    expect(_close(junk, want), "the same logits whatever the padded steps hold (packing skips them)",
           _col0(junk))
    torch.manual_seed(6)
    gru = LightCurveLSTM(5, 3, hidden_size=8, cell="gru")
    expect(isinstance(getattr(gru, "rnn", None), nn.GRU), "self.rnn to be an nn.GRU for cell='gru'",
           type(getattr(gru, "rnn", None)).__name__)
    gru.eval()
    with torch.no_grad():
        got, want = gru(x, mask), _rnn_reference(gru, seqs)
    expect(_close(got, want), "the GRU version to classify its final hidden state too (a GRU returns h_n alone, "
           "not a tuple)", f"class-0 logits {_col0(got)} instead of {_col0(want)}")
    return "packed sequences of any order and length, the last layer's final state; LSTM and GRU"


# ---------------------------------------------------------------------------------------------------------- 3a


def _ref_focal(logits, y, gamma, alpha=None, reduction="mean"):
    log_p = torch.log_softmax(logits.double(), dim=1).gather(1, y.unsqueeze(1)).squeeze(1)
    loss = -((1 - log_p.exp()) ** gamma) * log_p
    w = torch.ones_like(loss) if alpha is None else torch.as_tensor(alpha, dtype=torch.float64)[y]
    loss = w * loss
    return loss if reduction == "none" else loss.sum() / w.sum()


@check("06", "3a", hint="log_p = F.log_softmax(logits, dim=1).gather(1, y.unsqueeze(1)).squeeze(1) is log p_t, the "
       "log-probability of each example's TRUE class (never torch.log(softmax): it gives -inf for extreme logits). "
       "p_t = log_p.exp(); loss = -(1 - p_t) ** self.gamma * log_p. With alpha: w = self.alpha[y] (the weight of the "
       "true class), loss = w * loss, and the mean is loss.sum() / w.sum() — what F.cross_entropy(weight=...) does. "
       "reduction='none' returns the per-example tensor.")
def q3a(FocalLoss):
    """FocalLoss: CE at gamma 0 (with and without alpha), (1-p_t)^gamma down-weighting, alpha[y], finite, grads."""
    logits = torch.tensor([[2.0, 0.5, -1.0, 0.0], [0.1, 0.2, 0.3, 0.4], [-1.0, 3.0, 0.5, 0.0],
                           [0.0, 0.0, 4.0, -2.0], [1.0, -1.0, 0.0, 2.5], [0.3, -0.2, 1.5, 0.1]])
    y = torch.tensor([0, 3, 0, 2, 3, 1])
    alpha = [0.5, 2.0, 1.0, 3.0]
    logits_before = logits.clone()
    got = attempt(FocalLoss(gamma=0.0), logits, y)
    expect(torch.equal(logits, logits_before), "logits left unchanged", "logits were modified")
    want = F.cross_entropy(logits, y)
    expect(isinstance(got, torch.Tensor) and got.dim() == 0, "a scalar tensor (reduction='mean')", _brief(got))
    expect(_close(got, want), f"exactly F.cross_entropy at gamma=0: {float(want):.6f}", f"{float(got):.6f}")
    got = FocalLoss(gamma=0.0, reduction="none")(logits, y)
    want = F.cross_entropy(logits, y, reduction="none")
    expect(_close(got, want), "per-example cross-entropy for reduction='none': "
           f"{[round(v, 4) for v in want.tolist()]}", _brief(got))
    got = FocalLoss(gamma=0.0, alpha=alpha)(logits, y)
    want = F.cross_entropy(logits, y, weight=torch.tensor(alpha))
    expect(_close(got, want), f"F.cross_entropy(weight=alpha) at gamma=0 with alpha: {float(want):.6f} "
           "(weights of the true classes, mean = sum(w·loss) / sum(w))", f"{float(got):.6f}")
    ce = F.cross_entropy(logits, y, reduction="none").double()
    got = FocalLoss(gamma=2.0, reduction="none")(logits, y)
    want = _ref_focal(logits, y, 2.0, reduction="none")
    p_t = torch.softmax(logits.double(), dim=1).gather(1, y.unsqueeze(1)).squeeze(1)
    easy, hard = int(p_t.argmax()), int(p_t.argmin())
    expect(_close(got, want), f"per-example losses (1 - p_t)^2 · CE at gamma=2: {[round(v, 4) for v in want.tolist()]}",
           _brief(got))
    expect(float(got[easy]) / float(ce[easy]) < 0.05 < float(got[hard]) / float(ce[hard]),
           f"the easy example (p_t = {float(p_t[easy]):.2f}) scaled by (1 - p_t)^2 = "
           f"{float((1 - p_t[easy]) ** 2):.4f} and the hard one (p_t = {float(p_t[hard]):.2f}) by "
           f"{float((1 - p_t[hard]) ** 2):.2f}",
           f"ratios to CE {float(got[easy]) / float(ce[easy]):.4f} and {float(got[hard]) / float(ce[hard]):.4f}")
    got = FocalLoss(gamma=2.0, alpha=alpha, reduction="none")(logits, y)
    want = _ref_focal(logits, y, 2.0, alpha, reduction="none")
    expect(_close(got, want), "per-example losses multiplied by alpha[y], the weight of each example's true class: "
           f"{[round(v, 4) for v in want.tolist()]}", _brief(got))
    leaf = logits.clone().requires_grad_(True)
    got = FocalLoss(gamma=2.0, alpha=alpha)(leaf, y)
    want = _ref_focal(logits, y, 2.0, alpha)
    expect(_close(got, want), f"the weighted mean sum(alpha[y]·loss) / sum(alpha[y]) = {float(want):.6f}",
           _brief(got))
    expect(isinstance(got, torch.Tensor) and got.requires_grad, "a tensor connected to the logits (so that "
           "loss.backward() works: stay in torch, no .item() or numpy)", _brief(got))
    got.backward()
    ref_leaf = logits.double().clone().requires_grad_(True)
    _ref_focal(ref_leaf, y, 2.0, alpha).backward()
    expect(leaf.grad is not None and _close(leaf.grad, ref_leaf.grad), "the gradient of the focal loss",
           _brief(leaf.grad))
    extreme = torch.tensor([[0.0, 200.0, 0.0], [300.0, 0.0, -300.0]])
    got = FocalLoss(gamma=2.0, reduction="none")(extreme, torch.tensor([0, 0]))
    expect(isinstance(got, torch.Tensor) and bool(torch.isfinite(got).all()) and abs(float(got[0]) - 200.0) < 1e-3,
           "finite losses [200, 0] for extreme logits (a true-class logit 200 below the best; use log_softmax)",
           _brief(got))
    return "cross-entropy at gamma 0, (1 - p_t)^gamma focusing, alpha of the true class, stable and differentiable"


# ---------------------------------------------------------------------------------------------------------- 4a/4b


class _Spy(nn.Module):
    """Per-step linear logits averaged over valid steps; records (training, grad enabled) at every call."""

    def __init__(self, n_features: int = 3, n_classes: int = 2, dropout: float = 0.0) -> None:
        super().__init__()
        self.linear = nn.Linear(n_features, n_classes)
        self.dropout = nn.Dropout(dropout)
        self.calls: list[tuple[bool, bool]] = []

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        self.calls.append((self.training, torch.is_grad_enabled()))
        h = self.dropout(self.linear(x))
        m = mask.unsqueeze(-1).to(h.dtype)
        return (h * m).sum(dim=1) / m.sum(dim=1)


def _loader(signs: list[int], labels: list[int], batch_size: int, seed: int):
    """A DataLoader of light-curve-like items whose feature 0 has the given sign (unshuffled)."""
    from torch.utils.data import DataLoader

    from exowavenet_lib.data import collate_lightcurves

    gen = torch.Generator().manual_seed(seed)
    items = []
    for i, (sign, label) in enumerate(zip(signs, labels, strict=True)):
        n = 2 + i % 5
        x = 0.3 * torch.randn(n, 3, generator=gen)
        x[:, 0] += sign
        items.append({"x": x, "length": n, "y": label})
    return DataLoader(items, batch_size=batch_size, shuffle=False, collate_fn=collate_lightcurves)


def _reference_epoch(model, loader, loss_fn, optimizer) -> float:
    model.train()
    total, count = 0.0, 0
    for batch in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(batch["x"], batch["mask"]), batch["y"])
        loss.backward()
        optimizer.step()
        total += loss.item() * len(batch["y"])
        count += len(batch["y"])
    return total / count


def _accuracy(model, loader) -> float:
    model.eval()
    with torch.no_grad():
        hits = sum(int((model(b["x"], b["mask"]).argmax(dim=1) == b["y"]).sum()) for b in loader)
    return hits / len(loader.dataset)


@check("06", "4a", hint="model.train() first (evaluate() may have left it in eval mode); then for each batch: "
       "x, mask, y = batch['x'].to(device), batch['mask'].to(device), batch['y'].to(device); optimizer.zero_grad(); "
       "loss = loss_fn(model(x, mask), y); loss.backward(); optimizer.step(); total += loss.item() * len(y); "
       "count += len(y). Return total / count, a Python float: the mean loss per light curve, not per batch.")
def q4a(train_epoch):
    """train_epoch: train mode, zero_grad/backward/step per batch, mean loss per sample as a float."""
    labels = [0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 1, 0]
    loader = _loader([1 if k == 0 else -1 for k in labels], labels, batch_size=5, seed=7)  # batches of 5, 5, 2
    torch.manual_seed(8)
    model = _Spy()
    reference = copy.deepcopy(model)
    model.eval()  # as evaluate() leaves it: train_epoch must switch back
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    got = attempt(train_epoch, model, loader, loss_fn, optimizer, torch.device("cpu"))
    want = _reference_epoch(reference, loader, loss_fn, torch.optim.SGD(reference.parameters(), lr=0.5))
    expect(isinstance(got, float), "a Python float (use loss.item(); a tensor keeps the whole graph alive)",
           _brief(got))
    expect(len(model.calls) == 3, "one forward pass per batch (3 batches of 5, 5 and 2 light curves)",
           f"{len(model.calls)} calls")
    expect(all(training for training, _ in model.calls), "the model in train mode during training (call "
           "model.train() at the start)", f"training flags {[t for t, _ in model.calls]}")
    expect(model.training, "the model left in train mode", "eval mode")
    same = all(torch.allclose(p, q, atol=1e-6) for p, q in zip(model.parameters(), reference.parameters(),
                                                                 strict=True))
    expect(same, "the weights of a correct epoch: zero_grad(), then loss.backward(), then optimizer.step(), for "
           "every batch (gradients must not accumulate from one batch to the next)",
           "different weights after one epoch")
    expect(abs(got - want) < 1e-5, f"the mean loss per light curve {want:.5f} (batch means weighted by batch size: "
           "batches of 5, 5 and 2)", f"{got:.5f}")
    losses = [got] + [train_epoch(model, loader, loss_fn, optimizer, "cpu") for _ in range(14)]
    expect(losses[-1] < 0.5 * losses[0], "the loss to fall on this separable toy problem over 15 epochs",
           f"losses {[round(v, 3) for v in losses[::3]]}")
    accuracy = _accuracy(model, loader)
    expect(accuracy == 1.0, "100 % training accuracy after 15 epochs on separable data", f"{accuracy:.0%}")
    return f"the loss fell from {losses[0]:.3f} to {losses[-1]:.3f} in 15 epochs; weights match a reference loop"


@check("06", "4b", hint="model.eval() (dropout off) and `with torch.no_grad():` around the loop. For each batch: "
       "logits = model(x, mask); total_loss += loss_fn(logits, y).item() * len(y); correct += (logits.argmax(dim=1) "
       "== y).sum().item() — dim=1 is the class axis of (B, C) logits; count += len(y). Return (total_loss / count, "
       "correct / count): both per light curve, accuracy as a fraction in [0, 1].")
def q4b(evaluate):
    """evaluate: eval mode, no gradients, (mean loss per sample, accuracy as a fraction)."""
    # Predictions follow the sign of feature 0 (class 0 when positive). Labels agree with 4/4, 2/4 and 1/2 of the
    # three batches: accuracy 7/10 overall, but 2/3 as a mean of batch accuracies.
    signs = [1, -1, 1, -1, 1, -1, 1, -1, 1, -1]
    labels = [0, 1, 0, 1, 1, 1, 1, 1, 0, 0]
    loader = _loader(signs, labels, batch_size=4, seed=9)
    model = _Spy(dropout=0.5)
    with torch.no_grad():
        model.linear.weight.copy_(torch.tensor([[2.0, 0.3, -0.2], [-2.0, 0.1, 0.4]]))
        model.linear.bias.copy_(torch.tensor([0.1, -0.1]))
    model.train()  # as train_epoch leaves it: evaluate must switch to eval mode
    loss_fn = nn.CrossEntropyLoss()
    torch.manual_seed(10)
    got = attempt(evaluate, model, loader, loss_fn, "cpu")
    expect(isinstance(got, tuple) and len(got) == 2, "a tuple (mean loss, accuracy)", _brief(got))
    loss, accuracy = got
    expect(isinstance(loss, float) and isinstance(accuracy, float), "two Python floats (use .item())",
           f"{type(loss).__name__}, {type(accuracy).__name__}")
    expect(len(model.calls) == 3, "one forward pass per batch (3 batches)", f"{len(model.calls)} calls")
    expect(not any(training for training, _ in model.calls), "the model in eval mode (model.eval(): dropout off)",
           f"training flags {[t for t, _ in model.calls]}")
    expect(not any(grad for _, grad in model.calls), "no gradient tracking (with torch.no_grad():)",
           f"grad enabled {[g for _, g in model.calls]}")
    expect(all(p.grad is None for p in model.parameters()), "no gradients computed", "parameters have .grad set")
    expect(abs(accuracy - 0.7) < 1e-9, "accuracy 0.7: 7 of 10 light curves right (counted per light curve, as a "
           "fraction, with argmax over the class axis)", f"{accuracy}")
    model.calls.clear()
    model.eval()
    with torch.no_grad():
        want = sum(loss_fn(model(b["x"], b["mask"]), b["y"]).item() * len(b["y"]) for b in loader) / 10
    expect(abs(loss - want) < 1e-5, f"the mean loss per light curve {want:.5f} (batch means weighted by batch size)",
           f"{loss:.5f}")
    return f"eval mode, no gradients: loss {loss:.4f} and accuracy {accuracy:.0%} per light curve"
