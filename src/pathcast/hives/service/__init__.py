"""Hive services: the only code that writes hive tables.

``access`` (who sees which hive), ``templates`` (admin-edited templates), ``hives``
(creating hives, members, lifecycle, the schedule and its alerts); the board, capacity,
archive and health services sit beside them.
"""
