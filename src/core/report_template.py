"""Turns report_template.html into report_html_template.h at build time.

usage: python3 report_template.py report_template.html report_html_template.h

The page stays a readable HTML file in the source tree; the C writer
(report_html.c) gets it as string constants: the text between the @@name@@
markers (report_template_parts) and the marker names in order
(report_template_slots), which the writer fills. Two things are done here,
once, rather than at run time:
- HTML comments outside <style> and <script> are dropped (developer notes,
  not for every report), and
- @@csp@@ is replaced by a Content-Security-Policy that allows exactly the
  page's own <style> and <script> blocks (by their SHA-256), no other script
  or style and no network at all.
Standard library only; run by meson (custom_target) and by the browser test.
"""
import base64
import hashlib
import re
import sys

SLOT = re.compile(r"@@([a-z_]+)@@")


def csp_hash(text):
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


def c_literal(text):
    """The text as C string literals, one source line per template line. Bytes
    outside printable ASCII are octal escapes (three digits, so a following
    digit cannot join them), '?' is escaped against trigraphs."""
    out = []
    for line in text.encode("utf-8").splitlines(keepends=True):
        piece = []
        for b in line:
            c = chr(b)
            if c == "\\" or c == '"' or c == "?":
                piece.append("\\" + c)
            elif c == "\n":
                piece.append("\\n")
            elif 0x20 <= b < 0x7F:
                piece.append(c)
            else:
                piece.append("\\%03o" % b)
        out.append('    "' + "".join(piece) + '"')
    return "\n".join(out) if out else '    ""'


def main(src, dst):
    with open(src, encoding="utf-8") as f:
        text = f.read()
    styles = re.findall(r"<style>(.*?)</style>", text, re.S)
    scripts = re.findall(r"<script>(.*?)</script>", text, re.S)
    if len(styles) != 1 or len(scripts) != 1:
        sys.exit("report_template.py: want exactly one <style> and one inline <script>")
    for block in styles + scripts:
        if SLOT.search(block):
            sys.exit("report_template.py: no @@slot@@ inside <style> or <script> (their hashes are fixed)")
    # Drop comments outside the two blocks (none are inside them).
    text = re.sub(r"<!--.*?-->\n?", "", text, flags=re.S)
    if re.findall(r"<style>(.*?)</style>", text, re.S) != styles or \
            re.findall(r"<script>(.*?)</script>", text, re.S) != scripts:
        sys.exit("report_template.py: a comment inside <style> or <script> (their hashes would change)")
    csp = ("default-src 'none'; style-src " + csp_hash(styles[0]) + "; script-src " + csp_hash(scripts[0])
           + "; img-src data:; base-uri 'none'; form-action 'none'")
    if text.count("@@csp@@") != 1:
        sys.exit("report_template.py: want exactly one @@csp@@")
    text = text.replace("@@csp@@", csp)
    pieces = SLOT.split(text)
    parts, slots = pieces[0::2], pieces[1::2]

    lines = [
        "/* Generated from report_template.html by report_template.py: do not edit. */",
        "#ifndef LT_REPORT_HTML_TEMPLATE_H",
        "#define LT_REPORT_HTML_TEMPLATE_H",
        "",
        "#define REPORT_TEMPLATE_NSLOTS %d" % len(slots),
        "",
        "/* The page's text between the slots: part i, then slot i, ..., the last part. */",
        "static const char *const report_template_parts[REPORT_TEMPLATE_NSLOTS + 1] = {",
    ]
    lines.append(",\n".join(c_literal(p) for p in parts))
    lines.append("};")
    lines.append("")
    lines.append("static const char *const report_template_slots[REPORT_TEMPLATE_NSLOTS] = {")
    lines.append(",\n".join('    "%s"' % s for s in slots))
    lines.append("};")
    lines.append("")
    lines.append("#endif")
    with open(dst, "w", encoding="ascii", newline="\n") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
