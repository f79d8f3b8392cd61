"""Enrichers: DNS, hosting, TLS, web fingerprints and payment endpoints per site."""
