"""panelmap: a reconnaissance crawler for SMM panels, their resellers and infrastructure."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("panelmap")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
