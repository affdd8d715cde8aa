"""Prompts shipped for the simulator and the demo (VideoGen-Eval, MIT: see the licence file)."""
