"""Screen callbacks, one module per screen (``callbacks/<screen>.py``), and the
screen contract (``callbacks/screen.py``) the registry, the router and the
gate share. Callbacks import layouts and read models, never the rest of
``dashboard``: what they need of the running platform comes in a
:class:`callbacks.screen.ScreenContext` the platform wires in.
"""
