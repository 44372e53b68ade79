"""Reading the CSV files an office hands over: UTF-8 with or without BOM, and GB18030 (which
includes GBK and GB2312: what Excel saves as "CSV" on a Chinese Windows), detected from the bytes;
Chinese yes/no and review words beside the English ones."""
import codecs
import csv
import io

# tried in order: a BOM says it outright; strict UTF-8 almost never accepts GBK text by chance
# (GBK's two-byte sequences are not valid UTF-8 continuations), so UTF-8 first, then GB18030
ENCODING_NAMES = {"utf-8-sig": "UTF-8 (BOM)", "utf-8": "UTF-8", "gb18030": "GB18030/GBK", "utf-16": "UTF-16"}

TRUE_WORDS = ("true", "是")
FALSE_WORDS = ("false", "否")
YES_NO_HELP = "true/是, false/否, or empty"
BOOLEAN_WORDS = {**{w: True for w in TRUE_WORDS}, **{w: False for w in FALSE_WORDS}, "": None}

# review words of a Chinese office → stored statuses (approved, returned, rejected, submitted)
STATUS_WORDS = {"通过": "approved", "已通过": "approved", "退回": "returned", "已退回": "returned",
                "不通过": "rejected", "驳回": "rejected", "已驳回": "rejected", "待审核": "submitted",
                "已提交": "submitted"}


class UnreadableCSV(ValueError):
    """The file is not text in an accepted encoding, or not CSV."""


def decode_csv_bytes(data):
    """(text, encoding name) of a file's bytes; UnreadableCSV when it is neither."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):].decode("utf-8", errors="strict"), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            pass
    for encoding in ("utf-8", "gb18030"):
        try:
            return data.decode(encoding, errors="strict"), encoding
        except UnicodeDecodeError:
            continue
    raise UnreadableCSV("the file is neither UTF-8 nor GB18030/GBK text (save it from Excel as "
                        "\"CSV UTF-8\" or \"CSV\")")


def read_csv_text(source):
    """A path, CSV text (a str with a newline), bytes or a stream → (text, encoding name)."""
    if hasattr(source, "read"):
        data = source.read()
        if isinstance(data, str):
            return data.lstrip("\ufeff"), "text"
        return decode_csv_bytes(data)
    if isinstance(source, bytes):
        return decode_csv_bytes(source)
    if isinstance(source, str) and "\n" in source:
        return source.lstrip("\ufeff"), "text"
    with open(source, "rb") as f:
        return decode_csv_bytes(f.read())


def csv_rows(text):
    """DictReader over `text` with stripped header names; UnreadableCSV for a NUL byte or an
    empty file."""
    if "\x00" in text:
        raise UnreadableCSV("the file holds NUL bytes: not a CSV text file")
    if not text.strip():
        raise UnreadableCSV("the file is empty")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() if h else "" for h in (reader.fieldnames or [])]
    except csv.Error as error:
        raise UnreadableCSV(f"not a readable CSV file: {error}") from None
    reader.fieldnames = header
    return reader


def ignored_columns(header, known):
    """Header names the import does not read, in file order."""
    return [h for h in header if h and h not in known]


def encoding_label(encoding):
    return ENCODING_NAMES.get(encoding, encoding)
