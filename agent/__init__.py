"""Turns a question (and its conversation) into a typed plan and the result into an answer."""
