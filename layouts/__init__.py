"""Screen layouts, one module per screen (``layouts/<screen>.py``).

A layout is pure: it builds Dash components from the data it is given (a
read model's answer, the page's language, the URL's query) and touches
nothing else: no database, no Flask request or app, no auth. The screen
registry (``dashboard/screens.py``) says which path shows which layout and
who may see it; ``tests/unit/test_screen_shape.py`` keeps these modules pure.
"""
