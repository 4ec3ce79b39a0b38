"""A USI engine that plays cshogi's first legal move and misbehaves on request, for the referee
tests: `python fault_engine.py FAULT N` commits FAULT at its N-th `go` (1-based, counted over the
process's life):

  none     never misbehaves
  illegal  answers a move that is not legal in the position
  crash    exits with code 3 without answering
  silent   never answers (a hang)
  resign   answers `bestmove resign`
  win      answers `bestmove win` (a declaration, false unless the position allows one)
  nomove   answers a bare `bestmove` (a protocol error)
  slowstart  (N ignored) takes 30 s to answer `usi`
"""
import sys
import time

import cshogi

fault, at = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1
board = cshogi.Board()
goes = 0


def say(text):
    print(text, flush=True)


for line in sys.stdin:
    words = line.split()
    if not words:
        continue
    if words[0] == "usi":
        if fault == "slowstart":
            time.sleep(30)
        say("id name fault_engine " + fault)
        say("usiok")
    elif words[0] == "isready":
        say("readyok")
    elif words[0] == "position":
        board = cshogi.Board()
        if words[1] == "sfen":
            board.set_sfen(" ".join(words[2:6]))
        if "moves" in words:
            for move in words[words.index("moves") + 1:]:
                board.push_usi(move)
    elif words[0] == "go":
        goes += 1
        legal = [cshogi.move_to_usi(m) for m in board.legal_moves]
        if goes == at and fault == "crash":
            sys.exit(3)
        if goes == at and fault == "silent":
            continue
        if goes == at and fault == "illegal":
            say("bestmove " + next(f"{a}{b}{c}{d}" for a in "123456789" for b in "abcdefghi"
                                   for c in "123456789" for d in "abcdefghi"
                                   if (a, b) != (c, d) and f"{a}{b}{c}{d}" not in legal))
        elif goes == at and fault in ("resign", "win"):
            say("bestmove " + fault)
        elif goes == at and fault == "nomove":
            say("bestmove")
        else:
            say("bestmove " + (legal[0] if legal else "resign"))
    elif words[0] == "quit":
        break
