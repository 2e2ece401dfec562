"""Latent weights as a real-valued feature extractor: an optional training-only auxiliary path.

Xu et al. 2021 ("Improving Binary Neural Networks through Fully Utilizing Latent Weights") put the latent
real weights into the computation graph as a real-valued feature extractor with a specialised
supervision; only the abstract is available to us, so the wiring below is OUR OWN INTERPRETATION
(docs/methods.md section 5), not the paper's method:

- at every binary layer, during training only, the same input ``a`` (already binary) also goes through
  the layer's latent weights: ``f_real = conv(a, latent)``, next to ``f_bin = alpha * conv(a, sign(latent))``;
- the auxiliary loss is the mean over layers of ``1 - cos(f_bin[i], f_real[i])`` per sample ``i`` (flattened
  feature maps), so it ignores the overall magnitude, which differs between the two paths;
- gradients reach the latent weights directly through ``f_real`` (not only through the sign's
  surrogate gradient), and the binary path is pulled towards the features of its real-valued twin.
- ``stop_grad`` chooses which side the loss may move: "none" both; "real" stops it on the real path (the
  binary features follow the real ones, a distillation); "binary" stops it on the binary path (the latent
  weights follow the binary features). The trainer weighs the loss by ``aux_weight`` (lambda).

The branch has no parameters and no state besides the last loss: ``fold_for_export`` drops it, and the
exported graph is identical with and without it (tested).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class LatentFeatureBranch(nn.Module):
    """Records ``1 - cos`` between a binary layer's output and its latent-weight twin (training only)."""

    STOP_GRADS = ("none", "real", "binary")

    def __init__(self, stop_grad: str = "none"):
        super().__init__()
        if stop_grad not in self.STOP_GRADS:
            raise ValueError(f"unknown aux stop-gradient {stop_grad!r}; choose one of {', '.join(self.STOP_GRADS)}")
        self.stop_grad = stop_grad
        self.last_loss: torch.Tensor | None = None

    def forward(self, real_features: torch.Tensor, binary_features: torch.Tensor) -> None:
        if self.stop_grad == "real":
            real_features = real_features.detach()
        elif self.stop_grad == "binary":
            binary_features = binary_features.detach()
        cos = F.cosine_similarity(binary_features.flatten(1), real_features.flatten(1), dim=1, eps=1e-8)
        self.last_loss = (1.0 - cos).mean()

    def __deepcopy__(self, memo):
        """A copy without the recorded loss (a non-leaf tensor of the current graph, which cannot be copied)."""
        return LatentFeatureBranch(self.stop_grad).train(self.training)

    def pop_loss(self) -> torch.Tensor | None:
        loss, self.last_loss = self.last_loss, None
        return loss


def attach_aux(layers, stop_grad: str = "none") -> None:
    """Give every binary layer of ``layers`` its latent-feature branch."""
    for layer in layers:
        layer.aux_branch = LatentFeatureBranch(stop_grad)


def aux_loss(layers, device=None) -> torch.Tensor:
    """Mean of the branch losses recorded since the last call (0 when none ran, e.g. in eval mode)."""
    losses = [loss for layer in layers if layer.aux_branch is not None
              for loss in [layer.aux_branch.pop_loss()] if loss is not None]
    if not losses:
        return torch.zeros((), device=device)
    return torch.stack(losses).mean()
