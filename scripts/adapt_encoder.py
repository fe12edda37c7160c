#!/usr/bin/env python
"""Masked-LM adaptation of the encoder on a dataset's training text (Gururangan et al. 2020, "Don't stop
pretraining"), an ablation of issue 10: does the encoder learn the domain's words before fine-tuning?

The packaged MiniLM has no masked-LM head, so `BertForMaskedLM` starts one (its output layer tied to the word
embeddings, the transform fresh); the head learns alone for the first `--head-steps`, then the whole network.
Only the training split's sentences are read (never dev or test). The adapted folder is a BERT folder like the
packaged one, for `scripts/bench_nlu.py --encoder` (or `nlu.encoder`).

    python scripts/adapt_encoder.py ../shared/datasets/atis --out /tmp/minilm_atis --epochs 5
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import time
from pathlib import Path

import torch
from benchlib import log_progress
from tqdm import tqdm

from assistant.intents import load_training_data  # noqa: E402
from assistant.nlu import bundle  # noqa: E402
from assistant.nlu.train import check_encoder  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", help="a JointBERT folder or intents folder: its training sentences are the text")
    ap.add_argument("--out", required=True, help="the adapted BERT folder")
    ap.add_argument("--encoder", help="the BERT folder to start from (default: the packaged MiniLM)")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--head-steps", type=int, default=100, help="steps that train the fresh head alone first")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    log_progress()
    from transformers import BertForMaskedLM, DataCollatorForLanguageModeling, PreTrainedTokenizerFast

    torch.manual_seed(args.seed)
    encoder = check_encoder(args.encoder)
    sentences = [" ".join(e.tokens) for e in load_training_data(Path(args.data), seed=args.seed).train]
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(encoder / bundle.TOKENIZER), unk_token="[UNK]", pad_token="[PAD]",
                                        cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")
    collate = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15)
    encoded = [tokenizer(s, truncation=True, max_length=128) for s in sentences]
    model = BertForMaskedLM.from_pretrained(str(encoder), local_files_only=True)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    steps = args.epochs * ((len(encoded) + args.batch_size - 1) // args.batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / (0.06 * steps)) * max(0.0, 1 - step / steps))
    model.bert.requires_grad_(args.head_steps <= 0)  # the fresh head learns alone first
    rng = random.Random(args.seed)
    started, step, losses = time.monotonic(), 0, []
    for epoch in range(1, args.epochs + 1):
        order = encoded[:]
        rng.shuffle(order)
        bar = tqdm([order[i : i + args.batch_size] for i in range(0, len(order), args.batch_size)], desc=f"epoch {epoch}", leave=False,
                   mininterval=1 if sys.stderr.isatty() else 30)
        total = 0.0
        for chunk in bar:
            if step == args.head_steps:
                model.bert.requires_grad_(True)
            batch = collate(chunk)
            loss = model(**batch).loss
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            step += 1
            total += loss.item()
            bar.set_postfix(loss=f"{loss.item():.3f}")
        losses.append(round(total / max(len(bar), 1), 4))
        print(f"epoch {epoch}: masked-LM loss {losses[-1]:.3f} ({time.monotonic() - started:.0f}s)", file=sys.stderr, flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model.bert.save_pretrained(out)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        if (encoder / name).is_file():
            shutil.copy(encoder / name, out / name)
    (out / "adaptation.json").write_text(json.dumps({"data": str(args.data), "sentences": len(sentences), "epochs": args.epochs,
                                                     "lr": args.lr, "steps": steps, "loss_per_epoch": losses,
                                                     "seconds": round(time.monotonic() - started, 1)}, indent=1) + "\n")
    print(f"adapted encoder written to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
