"""Help menu dialogs: a plain-language introduction to SSL and the About box."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QMessageBox, QTextBrowser, QVBoxLayout, QWidget

import ssl_core
from app.resources import app_icon, resource_path


class IntroDialog(QDialog):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("What is self-supervised learning?")
        self.resize(720, 640)
        layout = QVBoxLayout(self)
        self.browser = QTextBrowser()
        self.browser.setOpenExternalLinks(True)
        self.browser.setHtml(resource_path("help", "ssl_intro.html").read_text(encoding="utf-8"))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)


def about(parent: QWidget | None) -> None:
    box = QMessageBox(parent)
    box.setWindowTitle("About SSL Workbench")
    box.setIconPixmap(app_icon().pixmap(64, 64))
    box.setText(
        f"<b>SSL Workbench {ssl_core.__version__}</b><br><br>"
        "Train self-supervised models on your own images or time series, watch them learn and see what "
        "they learned.<br><br>"
        "The same engine runs from the command line: <code>ssl-core train --config FILE.toml</code>."
    )
    box.exec()
