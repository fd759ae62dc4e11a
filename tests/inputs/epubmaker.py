"""Build EPUB 2 and 3 books with known text, with zipfile (deterministic bytes)."""

from __future__ import annotations

import io
import zipfile

CONTAINER = """<?xml version="1.0"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
  <rootfiles><rootfile full-path="OEBPS/content.opf"
    media-type="application/oebps-package+xml"/></rootfiles>
</container>"""

XHTML3 = """<?xml version="1.0" encoding="utf-8"?>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops">
<head><title>{title}</title></head><body>{body}</body></html>"""

XHTML2 = """<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.1//EN" "http://www.w3.org/TR/xhtml11/DTD/xhtml11.dtd">
<html xmlns="http://www.w3.org/1999/xhtml">
<head><title>{title}</title></head><body>{body}</body></html>"""


def zip_files(files: dict[str, bytes | str], *, mimetype: bytes | None = b"application/epub+zip"):
    """The archive's bytes: ``mimetype`` first and stored, as OCF asks, then ``files``."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        if mimetype is not None:
            info = zipfile.ZipInfo("mimetype", date_time=(2020, 1, 1, 0, 0, 0))
            archive.writestr(info, mimetype, compress_type=zipfile.ZIP_STORED)
        for path, content in files.items():
            info = zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0))
            data = content.encode("utf-8") if isinstance(content, str) else content
            archive.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def package(
    items: list[tuple[str, str, str, str]],
    spine: list[str],
    *,
    version: str = "3.0",
    title: str = "The Lighthouse",
    toc: str | None = None,
    guide: str = "",
) -> str:
    """An OPF: ``items`` are (id, href, media-type, properties)."""
    manifest = "\n".join(
        f'<item id="{i}" href="{h}" media-type="{m}"' + (f' properties="{p}"' if p else "") + "/>"
        for i, h, m, p in items
    )
    refs = "\n".join(f'<itemref idref="{i}"/>' for i in spine)
    toc_attr = f' toc="{toc}"' if toc else ""
    return f"""<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="{version}" unique-identifier="id">
<metadata xmlns:dc="http://purl.org/dc/elements/1.1/">
<dc:identifier id="id">urn:uuid:12345</dc:identifier><dc:title>{title}</dc:title>
<dc:language>en</dc:language></metadata>
<manifest>{manifest}</manifest>
<spine{toc_attr}>{refs}</spine>
{guide}
</package>"""


def xhtml(body: str, title: str = "t", *, version: int = 3) -> str:
    return (XHTML3 if version == 3 else XHTML2).format(title=title, body=body)


def epub(
    documents: dict[str, str],
    spine: list[str],
    *,
    version: str = "3.0",
    nav: str | None = None,
    ncx: str | None = None,
    guide: str = "",
    extra: dict[str, bytes | str] | None = None,
    title: str = "The Lighthouse",
) -> bytes:
    """A book: ``documents`` maps file names (under OEBPS/) to XHTML; ``spine`` lists
    them in reading order (ids are the names without their dots)."""
    items = []
    for href in documents:
        props = "nav" if href == nav else ""
        items.append((href.replace(".", "_"), href, "application/xhtml+xml", props))
    if ncx is not None:
        items.append(("ncx", "toc.ncx", "application/x-dtbncx+xml", ""))
    items.append(("cover_jpg", "cover.jpg", "image/jpeg", ""))
    opf = package(
        items,
        [s.replace(".", "_") for s in spine],
        version=version,
        title=title,
        toc="ncx" if ncx is not None else None,
        guide=guide,
    )
    files: dict[str, bytes | str] = {"META-INF/container.xml": CONTAINER, "OEBPS/content.opf": opf}
    files.update({f"OEBPS/{href}": text for href, text in documents.items()})
    if ncx is not None:
        files["OEBPS/toc.ncx"] = ncx
    files["OEBPS/cover.jpg"] = b"\xff\xd8\xff\xe0 not really a jpeg"
    files.update(extra or {})
    return zip_files(files)
