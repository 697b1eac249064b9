"""Delivery: the outbox table's state machine (`outbox`), files mode (`files`), SMTP sending (`send`, `smtp`).

One room, so every state a digest can be in and every way it moves is read in one place.
"""
