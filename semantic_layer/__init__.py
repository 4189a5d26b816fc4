"""The governed metrics model and its compiler: pure, no engine, no LLM, no HTTP."""
