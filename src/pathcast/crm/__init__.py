"""Accounts, contacts, products, opportunities, quotes, activities, contracts, tickets, documents."""
