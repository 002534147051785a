"""Small, deterministic document bodies for the demo: CSV sheets, Markdown papers, PDFs.

Nothing is downloaded. The PDFs are minimal but valid (one page, a standard font);
their body text is ASCII because the standard fonts carry no CJK glyphs, and the
Chinese title goes into the document information as UTF-16.
"""

from __future__ import annotations

from collections.abc import Sequence


def comparison_csv(version: int) -> bytes:
    """DSA介入耗材对比表: our consumables against two anonymised competitors."""
    rows = [
        ("项目 Item", "衡远 Hengyuan", "竞品A Competitor A", "竞品B Competitor B"),
        ("导丝通过性 Guidewire trackability", "优", "良", "良"),
        ("导管扭控比 Torque response", "1:1", "1:0.9", "1:0.85"),
        ("支架径向支撑力 Radial force (N)", "12.4", "11.8", "10.9"),
        ("注册证 Registration", "国械注准", "国械注准", "进口注册"),
        ("跟台服务 Case support", "7x24", "工作日", "工作日"),
    ]
    if version >= 2:
        rows.append(("集采中选 Volume-based procurement", "是", "是", "否"))
    if version >= 3:
        rows.append(("供货周期 Lead time (days)", "3", "7", "21"))
    text = "\n".join(",".join(cell.replace(",", " ") for cell in row) for row in rows)
    return ("\ufeff" + text + f"\n# version {version}\n").encode("utf-8")


def whitepaper_markdown(title: str, version: int, sections: Sequence[tuple[str, str]]) -> bytes:
    """A short Markdown paper with numbered sections."""
    lines = [f"# {title}", "", f"版本 Version {version}.0 — 衡远科技 Hengyuan Technology", ""]
    for number, (heading, body) in enumerate(sections, start=1):
        lines += [f"## {number}. {heading}", "", body, ""]
    if version >= 2:
        lines += ["## 修订记录 Changes", "", f"- v{version}.0: 新增兼容性测试结果 / added test results", ""]
    return "\n".join(lines).encode("utf-8")


PLC_SECTIONS = (
    ("支持的协议 Supported protocols", "Modbus TCP/RTU, PROFINET, EtherNet/IP, OPC UA, CANopen."),
    ("与 MES 的集成 MES integration", "通过 OPC UA 服务器暴露点位，支持订阅与历史数据读取。"),
    ("老旧总线迁移 Legacy fieldbus", "提供 DeviceNet / Profibus 网关，分步迁移不停线。"),
)
SECURITY_SECTIONS = (
    ("Data residency", "Tenants are hosted in-region: Shanghai, Singapore or Frankfurt."),
    ("Certifications", "ISO 27001, SOC 2 Type II, 等保三级 (MLPS level 3)."),
    ("Access control", "SSO via SAML 2.0 and OIDC, SCIM provisioning, audit log export."),
)


def _pdf_escape(text: str) -> str:
    ascii_text = text.encode("ascii", "replace").decode("ascii")
    return ascii_text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _utf16_hex(text: str) -> str:
    return "<FEFF" + text.encode("utf-16-be").hex().upper() + ">"


def simple_pdf(title: str, lines: Sequence[str]) -> bytes:
    """A one-page PDF with ``lines`` of ASCII text and ``title`` (any script) as metadata."""
    stream_lines = [
        "BT",
        "/F1 16 Tf",
        "56 780 Td",
        f"({_pdf_escape(lines[0] if lines else title)}) Tj",
        "/F1 11 Tf",
    ]
    for line in lines[1:]:
        stream_lines += ["0 -20 Td", f"({_pdf_escape(line)}) Tj"]
    stream_lines.append("ET")
    stream = "\n".join(stream_lines).encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        f"<< /Title {_utf16_hex(title)} /Producer (Pathcast demo) >>".encode("ascii"),
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref_at = len(out)
    out += f"xref\n0 {len(objects) + 1}\n".encode() + b"0000000000 65535 f \n"
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info {len(objects)} 0 R >>\n"
        f"startxref\n{xref_at}\n%%EOF\n"
    ).encode()
    return bytes(out)


def proposal_pdf(
    *,
    title: str,
    quote_number: str,
    account_code: str,
    currency: str,
    lines: Sequence[tuple[str, str, str]],
    total: str,
    revision: int,
) -> bytes:
    """A proposal: the quote's lines (code, quantity, amount) and its total."""
    text = [
        f"Proposal {quote_number} (rev. {revision})",
        "Hengyuan Technology",
        f"Customer reference: {account_code}",
        "",
        "Item / Quantity / Amount",
    ]
    text += [f"{code}  x{quantity}  {currency} {amount}" for code, quantity, amount in lines]
    text += ["", f"Total: {currency} {total}", "Valid for 30 days. Prices exclude VAT."]
    return simple_pdf(title, text)


def brochure_pdf(title: str, version: int) -> bytes:
    """A product brochure."""
    return simple_pdf(
        title,
        [
            "Hengyuan Ultrasound & Patient Monitoring",
            f"Brochure edition {version}",
            "U5 portable ultrasound - U9 cart ultrasound - M12 monitor - central station",
            "NMPA registered. 7x24 clinical support.",
        ],
    )
