"""Portal services, one module per use case (``documents``: watermarked exports)."""
