"""What every entity's rows are made from: the plan, per-entity random streams, text."""

from __future__ import annotations

import random

from synth.plan import SENTENCE_BITS, WORDS, Plan


class RowSource:
    """The plan and the text the entity row generators share."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.spec = plan.spec
        pool = random.Random(f"{plan.spec.seed}:sentences")
        self.sentences = [
            " ".join(pool.choice(WORDS) for _ in range(pool.randint(3, 14))).capitalize()
            for _ in range(1 << SENTENCE_BITS)
        ]

    def rng(self, entity: str) -> random.Random:
        """A stream per entity, so each pass is reproducible on its own."""
        return random.Random(f"{self.spec.seed}:{entity}")

    def text(self, rng: random.Random) -> str:
        """A sentence without final stop (a summary, a short comment)."""
        return self.sentences[rng.getrandbits(SENTENCE_BITS)]

    def paragraph(self, rng: random.Random, lines: int) -> str:
        body = "\n".join(self.sentences[rng.getrandbits(SENTENCE_BITS)] + "." for _ in range(lines))
        if rng.random() < 0.2:
            body += "\n{code}if (rows[ids[0]]>0) return;{code}"
        return body
