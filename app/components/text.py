"""Showing text that came from users (file names, checkpoint labels) without interpreting it."""

from __future__ import annotations

import string

_PUNCTUATION = set(string.punctuation)


def escape_markdown(text: str) -> str:
    """Backslash-escape every ASCII punctuation mark (CommonMark allows it), so that a file name like
    '[x](http://…).png', '**a**.jpg' or '$x$.png' shows as typed in st.error / st.caption / st.markdown,
    never as a link, bold text, LaTeX or an emoji shortcode. Newlines become spaces (one line)."""
    flat = " ".join(str(text).split())
    return "".join("\\" + char if char in _PUNCTUATION else char for char in flat)
