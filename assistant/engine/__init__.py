"""The engine layer: settings, events, backends, prompt, store, understanding and the facade.

Kept import-free so that light modules (events, settings) can be used by the SDK and
CLI without loading torch.
"""
