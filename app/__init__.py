"""SSL Workbench desktop app (PySide6). Owns windows, widgets and threads; all computation is in ssl_core."""
