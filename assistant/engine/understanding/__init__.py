"""Understanding: intent (with out-of-scope), sentiment, answer templates, answer policy, handoff."""
