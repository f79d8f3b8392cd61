"""Evidence packs: signed, hashed, timestamped WACZ captures for legal teams."""
