"""Read models: the queries that produce what screens show, one module per screen's data.

Each function takes a database session (and the caller's scope: the unit ids
it may see, None for all) and returns plain data: dicts, lists and frozen
dataclasses. No Flask request, no auth, no words in a language: callbacks
and Flask views call them and hand the result to the pure layouts
(``layouts/``), which turn it into components and text.
"""
