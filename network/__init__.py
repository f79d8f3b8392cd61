"""Network mapping: reseller-to-upstream links, infrastructure pivots, graph exports."""
