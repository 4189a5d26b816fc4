"""Eval case files and the runner that scores planners against them."""
