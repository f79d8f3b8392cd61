"""Spiders: fetch and render panel sites, capture every response, extract catalogues."""
