"""Task hives: a cross-functional workspace per customer job (board, capacity and the promise
check, message archive, contribution and health). See docs/hives.md."""
