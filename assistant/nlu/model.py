"""The joint intent and slot network, whole: a BERT encoder, an intent head on
[CLS], a slot head on the first sub-token of each word, and an optional CRF.

Training only (torch + transformers); the runtime runs the ONNX export of
`JointBert.forward` with numpy decoding.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from assistant.nlu.decode import FORBIDDEN, bio_rules


@dataclass
class ModelConfig:
    encoder: str
    """Folder of a local BERT checkpoint (config.json, model.safetensors, tokenizer.json)."""
    intents: list[str]
    tags: list[str]
    crf: bool = True
    dropout: float = 0.1
    word_pool: str = "first"
    """What a word's tag scores are: "first", its first sub-token's, or "mean", the mean over all of its sub-tokens
    (a rare word split into many pieces is read whole); the runtime reads them the same way (`features.Batch`)."""
    intent_pool: str = "cls"
    """What the intent head reads: "cls", the [CLS] vector (BERT's way), or "mean", the mean of all token vectors
    (the sentence vector a sentence-transformers encoder such as all-MiniLM was trained to make)."""

    def to_dict(self) -> dict:
        return asdict(self)


class Crf(nn.Module):
    """Linear-chain CRF over word tags, with the BIO rules as fixed penalties.

    JointBERT's CRF variant gains slot F1 and sentence accuracy on SNIPS and
    ATIS; the learned transitions are exported and decoded by `decode.viterbi`.
    """

    def __init__(self, tags: list[str]):
        super().__init__()
        n = len(tags)
        rule_start, rule_transitions = bio_rules(tags)
        self.register_buffer("rule_start", torch.tensor(rule_start))
        self.register_buffer("rule_transitions", torch.tensor(rule_transitions))
        self.start = nn.Parameter(torch.zeros(n))
        self.end = nn.Parameter(torch.zeros(n))
        self.transitions = nn.Parameter(torch.zeros(n, n))

    def scores(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.start + self.rule_start, self.transitions + self.rule_transitions, self.end

    def nll(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood; words must be left-aligned (mask is a prefix)."""
        start, transitions, end = self.scores()
        batch = torch.arange(emissions.shape[0])
        lengths = mask.sum(1)
        # score of the gold path
        gold = start[tags[:, 0]] + emissions[batch, 0, tags[:, 0]]
        for t in range(1, emissions.shape[1]):
            step = transitions[tags[:, t - 1], tags[:, t]] + emissions[batch, t, tags[:, t]]
            gold = gold + step * mask[:, t]
        gold = gold + end[tags[batch, (lengths - 1).clamp(min=0)]]
        # log partition function
        alpha = start + emissions[:, 0]
        for t in range(1, emissions.shape[1]):
            nxt = torch.logsumexp(alpha.unsqueeze(2) + transitions + emissions[:, t].unsqueeze(1), dim=1)
            alpha = torch.where(mask[:, t : t + 1], nxt, alpha)
        log_z = torch.logsumexp(alpha + end, dim=1)
        return (log_z - gold)[lengths > 0].mean()

    def log_marginals(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """log P(tag of word t = j | utterance) by forward-backward, (batch, words, tags); as `decode.marginals`,
        differentiable. Words must be left-aligned; rows past an utterance's end are meaningless."""
        start, transitions, end = self.scores()
        n = emissions.shape[1]
        alphas = [start + emissions[:, 0]]
        for t in range(1, n):
            nxt = torch.logsumexp(alphas[-1].unsqueeze(2) + transitions + emissions[:, t].unsqueeze(1), dim=1)
            alphas.append(torch.where(mask[:, t : t + 1], nxt, alphas[-1]))
        betas = [end.expand_as(alphas[0])]
        for t in range(n - 2, -1, -1):
            nxt = torch.logsumexp(transitions + (emissions[:, t + 1] + betas[0]).unsqueeze(1), dim=2)
            betas.insert(0, torch.where(mask[:, t + 1 : t + 2], nxt, betas[0]))
        log_z = torch.logsumexp(alphas[-1] + end, dim=1)
        return torch.stack(alphas, 1) + torch.stack(betas, 1) - log_z[:, None, None]


class JointBert(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        from transformers import AutoModel

        self.config = config
        self.encoder = AutoModel.from_pretrained(config.encoder, local_files_only=True)  # a folder, never the hub
        if getattr(self.encoder, "pooler", None) is not None:
            self.encoder.pooler = None  # [CLS] feeds the intent head directly; BERT's pooler would go unused
        hidden = self.encoder.config.hidden_size
        self.dropout = nn.Dropout(config.dropout)
        self.intent_head = nn.Linear(hidden, len(config.intents))
        self.slot_head = nn.Linear(hidden, len(config.tags))
        self.crf = Crf(config.tags) if config.crf else None

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        """Intent logits (batch, intents), tag scores per sub-token (batch, tokens, tags),
        and the mean-pooled sentence vector (batch, hidden) for out-of-scope scoring."""
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        intent_logits = self.intent_head(self.dropout(pooled if self.config.intent_pool == "mean" else hidden[:, 0]))
        tag_scores = self.slot_head(self.dropout(hidden))
        if self.crf is None:
            tag_scores = torch.log_softmax(tag_scores, dim=-1)
        return intent_logits, tag_scores, pooled

    def loss(self, batch: dict[str, torch.Tensor], rdrop: float = 0.0, distill: float = 0.0) -> torch.Tensor:
        """Intent cross-entropy plus the slots' (CRF) negative log-likelihood. With `rdrop` (R-Drop, Liang et al.
        2021) the batch goes through twice, under two dropout masks, and the two passes' intent and tag
        distributions are pulled together (symmetric KL, this weight): a consistency that regularises fine-tuning.
        With `distill` and the batch's soft targets (`soft_intents`, `soft_tags`: teachers' probabilities and
        tag marginals, `distill.soft_targets`), the cross-entropy against them is added at this weight."""
        if rdrop:
            batch = {k: torch.cat([v, v]) for k, v in batch.items()}  # one forward pass, two dropout masks
        intent_logits, tag_scores, _ = self(batch["input_ids"], batch["attention_mask"])
        intent_loss = nn.functional.cross_entropy(intent_logits, batch["intent"])
        emissions = word_scores(tag_scores, batch["word_pos"], batch.get("word_len"))
        mask = batch["word_mask"]
        if self.crf is not None:
            slot_loss = self.crf.nll(emissions, batch["tags"], mask)
        else:
            slot_loss = nn.functional.nll_loss(emissions[mask], batch["tags"][mask])
        loss = intent_loss + slot_loss
        if distill and "soft_intents" in batch:
            tags = self.crf.log_marginals(emissions, mask) if self.crf is not None else emissions
            soft_intents = -(batch["soft_intents"] * torch.log_softmax(intent_logits, dim=-1)).sum(-1).mean()
            soft_tags = -(batch["soft_tags"] * tags).sum(-1)[mask].mean()
            loss = loss + distill * (soft_intents + soft_tags)
        if not rdrop:
            return loss
        words = mask[: len(mask) // 2]
        consistency = symmetric_kl(*intent_logits.chunk(2)) + symmetric_kl(*(e[words] for e in emissions.chunk(2)))
        return loss + rdrop * consistency

    def transition_scores(self) -> tuple[list[float], list[list[float]], list[float] | None]:
        """Start, transition and end scores for `decode.viterbi`, as plain lists for the model folder."""
        if self.crf is None:
            start, transitions = bio_rules(self.config.tags)
            return start.tolist(), transitions.tolist(), None
        start, transitions, end = (s.detach().clamp(min=FORBIDDEN) for s in self.crf.scores())
        return start.tolist(), transitions.tolist(), end.tolist()


def symmetric_kl(p_logits: torch.Tensor, q_logits: torch.Tensor) -> torch.Tensor:
    """Half of KL(p||q) + KL(q||p) between the softmaxes of two sets of rows of logits, averaged over rows."""
    p, q = torch.log_softmax(p_logits, dim=-1), torch.log_softmax(q_logits, dim=-1)
    kl = nn.functional.kl_div
    return 0.5 * (kl(q, p, log_target=True, reduction="batchmean") + kl(p, q, log_target=True, reduction="batchmean"))


def word_scores(tag_scores: torch.Tensor, word_pos: torch.Tensor, word_len: torch.Tensor | None = None) -> torch.Tensor:
    """Tag scores of each word (batch, words, tags): its first sub-token's, or with `word_len` the mean over the
    `word_len` sub-tokens from `word_pos` (as `features.Batch.word_scores`)."""
    index = word_pos.unsqueeze(-1).expand(-1, -1, tag_scores.shape[-1])
    if word_len is None:
        return tag_scores.gather(1, index)
    sums = nn.functional.pad(tag_scores.cumsum(1), (0, 0, 1, 0))
    ends = (word_pos + word_len).unsqueeze(-1).expand_as(index)
    return (sums.gather(1, ends) - sums.gather(1, index)) / word_len.unsqueeze(-1)
