"""panelmap's own Scrapy signals."""

# Sent by the panel spider when the storage process has read a catalogue page,
# with `site` (domain) and `services` (how many the page listed).
catalogue_read = object()
