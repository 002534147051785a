"""The customer portal: what the customer sees, takes away and lets others see.

Watermarked documents: every proposal PDF handed out carries a visible stamp and a
signed, invisible one (``portal.watermark``), each copy is recorded
(``portal.models.DocumentExport``, ``portal.service.documents``) and
``pathcast documents verify FILE`` traces a file back to its export (``portal.cli``).
See ``docs/portal.md``.
"""
