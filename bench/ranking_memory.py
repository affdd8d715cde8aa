"""Benchmark: a partition's vote book as votes stream by (cells, dedup keys, traced memory).

Run from the repo root: `python bench/ranking_memory.py [--voters 1000] [--models 14] [--votes 150000]`.
Figures, not assertions: cells grow with annotators x compared model pairs and level off; the dedup
keys stop at ALPHAWATCH_RANKING_DEDUP_VOTES (200,000).
"""

from __future__ import annotations

import argparse
import sys
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stream.campaign.tournament import Tournament, draw, random_events
from stream.ranking.parts import split
from stream.ranking.votes import VoteBook

DIMS = ("motion_quality", "visual_fidelity", "viewer_interest", "text_alignment")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--voters", type=int, default=1000)
    parser.add_argument("--models", type=int, default=14)
    parser.add_argument("--votes", type=int, default=150_000)
    args = parser.parse_args()
    field = draw(Tournament(n_models=args.models, n_voters=args.voters, noisy_share=0.25))
    events = random_events(field, args.votes, prompts=len(field.prompts))
    tracemalloc.start()
    book = VoteBook(DIMS)
    step = max(1, args.votes // 5)
    for offset, event in enumerate(events):
        book.add(event, offset)
        if (offset + 1) % step == 0:
            traced, _ = tracemalloc.get_traced_memory()
            state = book.to_state()
            print(f"{offset + 1:>8,} votes: {len(book.cells):>7,} cells, {len(book.seen):>7,} dedup keys, "
                  f"{traced / 1e6:6.1f} MB traced, snapshot {len(state['z']) / 1e3:,.0f} KB in "
                  f"{len(split(0, state))} part(s)")


if __name__ == "__main__":
    main()
