"""Plausible wrong answers for notebook 06; every one must be rejected by its part's check."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

# ---------------------------------------------------------------- 1a masked_mean


def _masked_mean(h, mask):
    m = mask.unsqueeze(-1).to(h.dtype)
    return (h * m).sum(dim=1) / m.sum(dim=1).clamp_min(1.0)


def masked_mean_all_steps(h, mask):
    """Averages over every step, padding included."""
    return h.mean(dim=1)


def masked_mean_divides_by_t(h, mask):
    """Sums the valid steps but divides by the padded length T."""
    return (h * mask.unsqueeze(-1)).sum(dim=1) / h.shape[1]


def masked_mean_zeroes_in_place(h, mask):
    """Zeroes the padded steps of the caller's tensor in place before averaging."""
    h[~mask] = 0.0
    return h.sum(dim=1) / mask.sum(dim=1, keepdim=True)


def masked_mean_counts_whole_batch(h, mask):
    """Divides by the number of valid steps in the whole batch instead of per sequence."""
    return (h * mask.unsqueeze(-1)).sum(dim=1) / mask.sum()


def masked_mean_over_features(h, mask):
    """Averages over the feature axis instead of the time axis."""
    return (h * mask.unsqueeze(-1)).mean(dim=2)


def masked_mean_sum_only(h, mask):
    """Returns the sum over valid steps, not the mean."""
    return (h * mask.unsqueeze(-1)).sum(dim=1)


# ---------------------------------------------------------------- 1b SimplePhotometryMLP


class _MLP(nn.Module):
    def __init__(self, n_features, n_classes, hidden=64, dropout=0.1):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU(), nn.Dropout(dropout),
                                     nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout))
        self.head = nn.Linear(hidden, n_classes)

    def forward(self, x, mask):
        return self.head(_masked_mean(self.encoder(x), mask))


class MLPMeanOverPadding(_MLP):
    """Averages the encoded steps over all T steps: the padding's encodings count too."""

    def forward(self, x, mask):
        return self.head(self.encoder(x).mean(dim=1))


class MLPLastPaddedStep(_MLP):
    """Classifies the encoding of step T-1, which is padding for every shorter sequence."""

    def forward(self, x, mask):
        return self.head(self.encoder(x)[:, -1])


class MLPSumPooling(_MLP):
    """Pools with a masked sum instead of a mean (padding-invariant, but scales with the length)."""

    def forward(self, x, mask):
        return self.head((self.encoder(x) * mask.unsqueeze(-1)).sum(dim=1))


class MLPSoftmaxOutput(_MLP):
    """Returns softmax probabilities instead of raw logits."""

    def forward(self, x, mask):
        return torch.softmax(super().forward(x, mask), dim=-1)


class MLPPoolsInputs(_MLP):
    """Averages the raw input features first, then runs the MLP on the mean."""

    def forward(self, x, mask):
        return self.head(self.encoder(_masked_mean(x, mask)))


class MLPIgnoresDropout(_MLP):
    """Ignores the dropout argument (no Dropout layers)."""

    def __init__(self, n_features, n_classes, hidden=64, dropout=0.1):
        super().__init__(n_features, n_classes, hidden, 0.0)


class MLPOneHiddenLayer(_MLP):
    """Builds one hidden layer instead of two."""

    def __init__(self, n_features, n_classes, hidden=64, dropout=0.1):
        super().__init__(n_features, n_classes, hidden, dropout)
        self.encoder = nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU(), nn.Dropout(dropout))


# ---------------------------------------------------------------- 2a LightCurveLSTM


class _RNN(nn.Module):
    def __init__(self, n_features, n_classes, hidden_size=64, num_layers=1, cell="lstm"):
        super().__init__()
        rnn_class = nn.GRU if cell == "gru" else nn.LSTM
        self.rnn = rnn_class(n_features, hidden_size, num_layers=num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, n_classes)

    def _h_n(self, state):
        return state[0] if isinstance(self.rnn, nn.LSTM) else state

    def forward(self, x, mask):
        lengths = mask.sum(dim=1).cpu()
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        _, state = self.rnn(packed)
        return self.head(self._h_n(state)[-1])


class LSTMLastPaddedStep(_RNN):
    """Runs the LSTM over the padded batch and classifies the output at step T-1 (padding for shorter ones)."""

    def forward(self, x, mask):
        output, _ = self.rnn(x)
        return self.head(output[:, -1])


class LSTMEnforceSorted(_RNN):
    """Packs with enforce_sorted=True, which needs lengths sorted in decreasing order."""

    def forward(self, x, mask):
        packed = pack_padded_sequence(x, mask.sum(dim=1).cpu(), batch_first=True, enforce_sorted=True)
        _, state = self.rnn(packed)
        return self.head(self._h_n(state)[-1])


class LSTMSortedNotRestored(_RNN):
    """Sorts the batch by length to pack it, but returns the logits in the sorted order."""

    def forward(self, x, mask):
        lengths = mask.sum(dim=1)
        order = torch.argsort(lengths, descending=True, stable=True)
        packed = pack_padded_sequence(x[order], lengths[order].cpu(), batch_first=True)
        _, state = self.rnn(packed)
        return self.head(self._h_n(state)[-1])


class LSTMCellState(_RNN):
    """Classifies the LSTM's cell state c_n instead of its hidden state h_n."""

    def _h_n(self, state):
        return state[1] if isinstance(self.rnn, nn.LSTM) else state


class LSTMFirstLayer(_RNN):
    """Takes h_n[0], the first layer's state, instead of h_n[-1], the last layer's."""

    def forward(self, x, mask):
        packed = pack_padded_sequence(x, mask.sum(dim=1).cpu(), batch_first=True, enforce_sorted=False)
        _, state = self.rnn(packed)
        return self.head(self._h_n(state)[0])


class LSTMFullLengths(_RNN):
    """Packs every sequence with the padded length T, so the recurrence runs through the padding."""

    def forward(self, x, mask):
        lengths = torch.full((x.shape[0],), x.shape[1], dtype=torch.int64)
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        _, state = self.rnn(packed)
        return self.head(self._h_n(state)[-1])


class LSTMLengthsWrongAxis(_RNN):
    """Counts valid steps over the batch axis (mask.sum(dim=0)) instead of the time axis."""

    def forward(self, x, mask):
        packed = pack_padded_sequence(x, mask.sum(dim=0).cpu(), batch_first=True, enforce_sorted=False)
        _, state = self.rnn(packed)
        return self.head(self._h_n(state)[-1])


class LSTMIgnoresCell(_RNN):
    """Always builds an LSTM: cell='gru' is ignored."""

    def __init__(self, n_features, n_classes, hidden_size=64, num_layers=1, cell="lstm"):
        super().__init__(n_features, n_classes, hidden_size, num_layers, "lstm")


class LSTMGRUTakesFirst(_RNN):
    """Treats a GRU's h_n like an LSTM's (h_n, c_n) tuple: for a GRU, state[0] is layer 0's (B, H) state."""

    def forward(self, x, mask):
        packed = pack_padded_sequence(x, mask.sum(dim=1).cpu(), batch_first=True, enforce_sorted=False)
        _, state = self.rnn(packed)
        return self.head(state[0][-1])


# ---------------------------------------------------------------- 3a FocalLoss


class _Focal(nn.Module):
    def __init__(self, gamma=2.0, alpha=None, reduction="mean"):
        super().__init__()
        self.gamma = float(gamma)
        self.reduction = reduction
        self.register_buffer("alpha", None if alpha is None else torch.as_tensor(alpha, dtype=torch.float32))

    def _log_p(self, logits, y):
        return F.log_softmax(logits, dim=1).gather(1, y.unsqueeze(1)).squeeze(1)

    def _factor(self, logits, y, log_p):
        return (1 - log_p.exp()) ** self.gamma

    def _weights(self, logits, y):
        return self.alpha[y]

    def _reduce(self, loss, w):
        if self.reduction == "none":
            return loss
        return loss.mean() if w is None else loss.sum() / w.sum()

    def forward(self, logits, y):
        log_p = self._log_p(logits, y)
        loss = -self._factor(logits, y, log_p) * log_p
        w = None if self.alpha is None else self._weights(logits, y)
        if w is not None:
            loss = w * loss
        return self._reduce(loss, w)


class FocalWrongClassProbability(_Focal):
    """Uses the probability of the predicted (most likely) class in (1 - p)^gamma, not of the true class."""

    def _factor(self, logits, y, log_p):
        return (1 - torch.softmax(logits, dim=1).max(dim=1).values) ** self.gamma


class FocalProbabilityOfClassZero(_Focal):
    """Takes p from column 0 of the softmax for every example."""

    def _factor(self, logits, y, log_p):
        return (1 - torch.softmax(logits, dim=1)[:, 0]) ** self.gamma


class FocalMissingLog(_Focal):
    """Multiplies by -p_t instead of -log p_t (the log of cross-entropy is missing)."""

    def forward(self, logits, y):
        p = self._log_p(logits, y).exp()
        loss = -((1 - p) ** self.gamma) * p
        w = None if self.alpha is None else self.alpha[y]
        return self._reduce(loss if w is None else w * loss, w)


class FocalAlphaOfPrediction(_Focal):
    """Indexes alpha with the predicted class (argmax of the logits) instead of the true class."""

    def _weights(self, logits, y):
        return self.alpha[logits.argmax(dim=1)]


class FocalAlphaComplement(_Focal):
    """Carries over the binary convention: weights 1 - alpha[y] instead of alpha[y]."""

    def _weights(self, logits, y):
        return 1 - self.alpha[y]


class FocalPlainMeanWithAlpha(_Focal):
    """Averages alpha-weighted losses with a plain mean, so gamma=0 differs from F.cross_entropy(weight=alpha)."""

    def _reduce(self, loss, w):
        return loss if self.reduction == "none" else loss.mean()


class FocalPowerOfP(_Focal):
    """Uses p_t ** gamma, which up-weights the easy examples instead of down-weighting them."""

    def _factor(self, logits, y, log_p):
        return log_p.exp() ** self.gamma


class FocalLogOfSoftmax(_Focal):
    """Computes torch.log(torch.softmax(...)): -inf (and nan gradients) for extreme logits."""

    def _log_p(self, logits, y):
        return torch.log(torch.softmax(logits, dim=1)).gather(1, y.unsqueeze(1)).squeeze(1)


class FocalReturnsFloat(_Focal):
    """Returns a Python float (.item()), which cannot be back-propagated."""

    def forward(self, logits, y):
        loss = super().forward(logits, y)
        return loss.item() if loss.dim() == 0 else loss.detach()


# ---------------------------------------------------------------- 4a train_epoch


def _batches(loader, device):
    for batch in loader:
        yield batch["x"].to(device), batch["mask"].to(device), batch["y"].to(device)


def train_epoch_no_zero_grad(model, loader, loss_fn, optimizer, device):
    """Never calls optimizer.zero_grad(): gradients accumulate from batch to batch."""
    model.train()
    total, count = 0.0, 0
    for x, mask, y in _batches(loader, device):
        loss = loss_fn(model(x, mask), y)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(y)
        count += len(y)
    return total / count


def train_epoch_eval_mode(model, loader, loss_fn, optimizer, device):
    """Calls model.eval() instead of model.train(): dropout is off while training."""
    model.eval()
    total, count = 0.0, 0
    for x, mask, y in _batches(loader, device):
        optimizer.zero_grad()
        loss = loss_fn(model(x, mask), y)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(y)
        count += len(y)
    return total / count


def train_epoch_no_train_call(model, loader, loss_fn, optimizer, device):
    """Never calls model.train(), so a model left in eval mode by evaluate() trains in eval mode."""
    total, count = 0.0, 0
    for x, mask, y in _batches(loader, device):
        optimizer.zero_grad()
        loss = loss_fn(model(x, mask), y)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(y)
        count += len(y)
    return total / count


def train_epoch_mean_of_batch_means(model, loader, loss_fn, optimizer, device):
    """Returns the mean of the batch means, over-weighting the smaller last batch."""
    model.train()
    losses = []
    for x, mask, y in _batches(loader, device):
        optimizer.zero_grad()
        loss = loss_fn(model(x, mask), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return sum(losses) / len(losses)


def train_epoch_step_before_backward(model, loader, loss_fn, optimizer, device):
    """Calls optimizer.step() before loss.backward(): each step uses no (or stale) gradients."""
    model.train()
    total, count = 0.0, 0
    for x, mask, y in _batches(loader, device):
        optimizer.zero_grad()
        loss = loss_fn(model(x, mask), y)
        optimizer.step()
        loss.backward()
        total += loss.item() * len(y)
        count += len(y)
    return total / count


def train_epoch_returns_tensor(model, loader, loss_fn, optimizer, device):
    """Accumulates the loss tensors themselves and returns a tensor attached to the graph."""
    model.train()
    total, count = 0.0, 0
    for x, mask, y in _batches(loader, device):
        optimizer.zero_grad()
        loss = loss_fn(model(x, mask), y)
        loss.backward()
        optimizer.step()
        total = total + loss * len(y)
        count += len(y)
    return total / count


def train_epoch_last_batch_loss(model, loader, loss_fn, optimizer, device):
    """Returns the loss of the last batch only."""
    model.train()
    loss = None
    for x, mask, y in _batches(loader, device):
        optimizer.zero_grad()
        loss = loss_fn(model(x, mask), y)
        loss.backward()
        optimizer.step()
    return loss.item()


# ---------------------------------------------------------------- 4b evaluate


def _evaluate(model, loader, loss_fn, device, *, eval_mode=True, no_grad=True, axis=1, per_batch=False,
              last_loss=False, percent=False):
    if eval_mode:
        model.eval()
    total, correct, count, batch_accuracies = 0.0, 0, 0, []
    with torch.set_grad_enabled(not no_grad):
        for x, mask, y in _batches(loader, device):
            logits = model(x, mask)
            loss = loss_fn(logits, y).item()
            total = loss * len(y) if last_loss else total + loss * len(y)
            hits = (logits.argmax(dim=axis) == y).sum().item()
            correct += hits
            count += len(y)
            batch_accuracies.append(hits / len(y))
    loss = total / (len(y) if last_loss else count)
    accuracy = sum(batch_accuracies) / len(batch_accuracies) if per_batch else correct / count
    return loss, 100.0 * accuracy if percent else accuracy


def evaluate_train_mode(model, loader, loss_fn, device):
    """Forgets model.eval(): dropout stays on while evaluating."""
    return _evaluate(model, loader, loss_fn, device, eval_mode=False)


def evaluate_without_no_grad(model, loader, loss_fn, device):
    """Forgets torch.no_grad(): builds the autograd graph for every batch."""
    return _evaluate(model, loader, loss_fn, device, no_grad=False)


def evaluate_argmax_wrong_axis(model, loader, loss_fn, device):
    """Takes the argmax of the (B, C) logits over the batch axis (dim=0) instead of the class axis."""
    return _evaluate(model, loader, loss_fn, device, axis=0)


def evaluate_accuracy_mean_of_batches(model, loader, loss_fn, device):
    """Averages per-batch accuracies, over-weighting the smaller last batch."""
    return _evaluate(model, loader, loss_fn, device, per_batch=True)


def evaluate_loss_last_batch(model, loader, loss_fn, device):
    """Returns the loss of the last batch only."""
    return _evaluate(model, loader, loss_fn, device, last_loss=True)


def evaluate_accuracy_percent(model, loader, loss_fn, device):
    """Returns the accuracy in per cent (70.0) instead of a fraction (0.7)."""
    return _evaluate(model, loader, loss_fn, device, percent=True)


def evaluate_returns_tensors(model, loader, loss_fn, device):
    """Returns 0-d tensors instead of Python floats."""
    loss, accuracy = _evaluate(model, loader, loss_fn, device)
    return torch.tensor(loss), torch.tensor(accuracy)


MUTANTS = {
    "1a": [masked_mean_all_steps, masked_mean_divides_by_t, masked_mean_zeroes_in_place,
           masked_mean_counts_whole_batch, masked_mean_over_features, masked_mean_sum_only],
    "1b": [MLPMeanOverPadding, MLPLastPaddedStep, MLPSumPooling, MLPSoftmaxOutput, MLPPoolsInputs, MLPIgnoresDropout,
           MLPOneHiddenLayer],
    "2a": [LSTMLastPaddedStep, LSTMEnforceSorted, LSTMSortedNotRestored, LSTMCellState, LSTMFirstLayer,
           LSTMFullLengths, LSTMLengthsWrongAxis, LSTMIgnoresCell, LSTMGRUTakesFirst],
    "3a": [FocalWrongClassProbability, FocalProbabilityOfClassZero, FocalMissingLog, FocalAlphaOfPrediction,
           FocalAlphaComplement, FocalPlainMeanWithAlpha, FocalPowerOfP, FocalLogOfSoftmax, FocalReturnsFloat],
    "4a": [train_epoch_no_zero_grad, train_epoch_eval_mode, train_epoch_no_train_call, train_epoch_mean_of_batch_means,
           train_epoch_step_before_backward, train_epoch_returns_tensor, train_epoch_last_batch_loss],
    "4b": [evaluate_train_mode, evaluate_without_no_grad, evaluate_argmax_wrong_axis,
           evaluate_accuracy_mean_of_batches, evaluate_loss_last_batch, evaluate_accuracy_percent,
           evaluate_returns_tensors],
}
