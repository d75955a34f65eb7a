"""The message header (MSH) read by hand, without a full parse: an acknowledgement needs the
sender's names, control id and version even when the rest of the message cannot be parsed (or
is not a message at all). Pure."""

from __future__ import annotations

from dataclasses import dataclass

# HL7 v2 lets MSH-18 name the character set; what arrives without one is taken as UTF-8, and
# bytes that are not UTF-8 as Windows-1251 (what Russian laboratory systems use when not UTF-8).
_CHARSETS = {
    "UNICODE UTF-8": "utf-8",
    "UTF-8": "utf-8",
    "8859/1": "iso8859-1",
    "8859/5": "iso8859-5",
    "ASCII": "ascii",
    "CP1251": "cp1251",
    "WINDOWS-1251": "cp1251",
    "KS X 1001": "euc-kr",
}


@dataclass(frozen=True)
class Header:
    field_separator: str = "|"
    encoding_characters: str = "^~\\&"
    sending_application: str = ""
    sending_facility: str = ""  # MSH-4 first component (namespace id)
    receiving_application: str = ""
    receiving_facility: str = ""
    message_type: str = ""  # MSH-9.1
    trigger_event: str = ""  # MSH-9.2
    control_id: str = ""  # MSH-10
    processing_id: str = "P"  # MSH-11
    version: str = ""  # MSH-12
    charset: str = ""  # MSH-18

    @property
    def component_separator(self) -> str:
        return self.encoding_characters[:1] or "^"


def decode(data: bytes) -> str:
    """The message as text, in the character set MSH-18 names (else UTF-8, else Windows-1251)."""
    header = read_header(data.decode("latin-1"))
    codec = _CHARSETS.get(header.charset.upper(), "") if header else ""
    for candidate in (codec, "utf-8", "cp1251"):
        if not candidate:
            continue
        try:
            return data.decode(candidate)
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace")


def _first(value: str, separator: str) -> str:
    return value.split(separator, 1)[0]


def read_header(text: str | bytes) -> Header | None:
    """The header of the first MSH segment found in `text` (after any leading junk), or None
    when there is none or it is too short to carry a control id."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    at = text.find("MSH")
    if at < 0 or len(text) < at + 8:
        return None
    segment = text[at:].replace("\n", "\r").split("\r", 1)[0]
    separator = segment[3]
    if separator.isalnum() or separator.isspace():
        return None
    fields = segment.split(separator)
    # fields[0] is "MSH", fields[1] the encoding characters (MSH-2); MSH-n is fields[n-1].
    if len(fields) < 10:
        return None

    def msh(n: int) -> str:
        return fields[n - 1].strip() if len(fields) >= n else ""

    encoding = fields[1] or "^~\\&"
    component = encoding[:1]
    message_type = msh(9).split(component)
    header = Header(
        field_separator=separator,
        encoding_characters=encoding,
        sending_application=_first(msh(3), component),
        sending_facility=_first(msh(4), component),
        receiving_application=_first(msh(5), component),
        receiving_facility=_first(msh(6), component),
        message_type=message_type[0] if message_type else "",
        trigger_event=message_type[1] if len(message_type) > 1 else "",
        control_id=msh(10),
        processing_id=_first(msh(11), component) or "P",
        version=_first(msh(12), component),
        charset=_first(msh(18), fields[1][1:2] or "~"),
    )
    return header if header.control_id else None
