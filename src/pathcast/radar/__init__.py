"""Customer signal radar: external and conversational text (feeds, bidding notices,
community APIs, the messages signals receives) turned into graded, routed signals.

This slice holds the sources (``sources/``: fetching and parsing, no database) and their
service (``service/sources.py``: configuration, polling, de-duplication, health).
"""
