"""SSL Workbench engine: headless self-supervised learning (no Qt here, ever)."""

__version__ = "0.1.0"

from ssl_core.errors import UserError  # noqa: E402

__all__ = ["UserError", "__version__"]
