#!/usr/bin/python3
"""check_report.py - checks a genorisk HTML report (api/report.h) the way a
reader sees it: rendered by Debian's headless Chromium.

    tools/check_report.py REPORT.html [--expect TEXT]... [--svg WATERFALL.svg]
                          [--png OUT.png] [--window 1200,2600] [--banner]

Checks, each printed with its outcome:
  * the page refers to nothing outside itself (no script, img, link, src,
    href, url(), http: or https: in a tag; the SVG namespace name excepted);
  * every inline <svg> of the file, and --svg files, parse as XML (xml.etree);
  * Chromium's --dump-dom text holds each --expect string (whitespace
    folded, entities decoded);
  * Chromium's --screenshot decodes (a PNG decoder of our own: IHDR, IDAT,
    zlib, the five filters, CRCs) and is not blank: more than --min-colours
    distinct colours and more than --min-ink of the pixels not white;
  * with --banner: the top rows are mostly the banner's red.
Exit status 0 when every check passes, 1 when one fails, 2 on bad usage or
when Chromium cannot run. Standard library only. Chromium is waited for
(--wait seconds) when it is not on PATH yet (it may still be installing).
"""
import argparse
import html.parser
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
import zlib

SVG_NS = 'xmlns="http://www.w3.org/2000/svg"'
OUTSIDE = ("<script", "<img", "<link", "<iframe", "<object", "<embed", "src=", "href=",
           "url(", "@import", "http:", "https:")

failures = []


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        failures.append(what)
    return ok


# ---- PNG ----

def png_decode(data):
    """(width, height, channels, rows): rows a list of bytes, 8-bit samples."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG signature")
    pos, ihdr, idat = 8, None, []
    while pos < len(data):
        if pos + 12 > len(data):
            raise ValueError("truncated chunk at byte %d" % pos)
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        crc, = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        if len(body) != length or zlib.crc32(kind + body) & 0xffffffff != crc:
            raise ValueError("bad %r chunk (length or CRC)" % kind)
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    if not ihdr or not idat:
        raise ValueError("no IHDR or no IDAT")
    width, height, depth, ctype, _, _, interlace = ihdr
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(ctype)
    if depth != 8 or channels is None or interlace:
        raise ValueError("unsupported PNG: depth %d, colour type %d, interlace %d"
                         % (depth, ctype, interlace))
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    if len(raw) != height * (stride + 1):
        raise ValueError("image data is %d bytes, not %d" % (len(raw), height * (stride + 1)))
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        unfilter(f, line, prev, channels)
        rows.append(bytes(line))
        prev = line
    return width, height, channels, rows


def unfilter(f, line, prev, bpp):
    n = len(line)
    if f == 0:
        return
    if f == 1:
        for i in range(bpp, n):
            line[i] = (line[i] + line[i - bpp]) & 0xff
    elif f == 2:
        for i in range(n):
            line[i] = (line[i] + prev[i]) & 0xff
    elif f == 3:
        for i in range(n):
            left = line[i - bpp] if i >= bpp else 0
            line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xff
    elif f == 4:
        for i in range(n):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
            line[i] = (line[i] + pred) & 0xff
    else:
        raise ValueError("unknown filter type %d" % f)


def pixels(row, channels):
    """The row's pixels as RGB byte triples."""
    if channels >= 3:
        return [row[i:i + 3] for i in range(0, len(row), channels)]
    return [bytes((row[i],) * 3) for i in range(0, len(row), channels)]


# ---- the DOM ----

class TextAndTags(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.text, self.skip, self.tags = [], 0, []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))
        if tag in ("style", "script", "title"):
            self.skip += 1

    def handle_endtag(self, tag):
        if tag in ("style", "script", "title") and self.skip:
            self.skip -= 1

    def handle_data(self, data):
        if not self.skip:
            self.text.append(data)


def fold(s):
    return re.sub(r"\s+", " ", s).strip()


# ---- Chromium ----

def find_chromium(name, wait):
    deadline = time.time() + wait
    while True:
        path = shutil.which(name)
        if path or time.time() >= deadline:
            return path
        print("      %s is not on PATH yet; waiting" % name)
        time.sleep(min(20, max(1, deadline - time.time())))


def chromium(binary, args, url, timeout):
    profile = tempfile.mkdtemp(prefix="check_report.")
    try:
        cmd = [binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               "--user-data-dir=" + profile] + args + [url]
        return subprocess.run(cmd, capture_output=True, timeout=timeout)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


# ---- the checks ----

def check_source(path, svgs):
    with open(path, encoding="utf-8") as f:
        src = f.read()
    for m in re.finditer(r"<[^>]*>", src):
        tag = m.group(0).lower().replace(SVG_NS, "")
        bad = [b for b in OUTSIDE if b in tag]
        if bad:
            check(False, "%s: a tag refers outside the page (%s): %.80s" % (path, bad[0], tag))
            break
    else:
        check(True, "%s: no tag refers outside the page" % path)
    check('<meta charset="utf-8">' in src, "%s: declares <meta charset=\"utf-8\">" % path)
    inline = re.findall(r"<svg\b.*?</svg>", src, re.S)
    for i, svg in enumerate(inline):
        if SVG_NS not in svg[:200]:
            svg = svg.replace("<svg", "<svg " + SVG_NS, 1)
        try:
            root = ET.fromstring(svg)
            check(True, "inline svg %d of %d parses as XML (%d elements)"
                  % (i + 1, len(inline), sum(1 for _ in root.iter())))
        except ET.ParseError as e:
            check(False, "inline svg %d of %d does not parse: %s" % (i + 1, len(inline), e))
    for p in svgs:
        try:
            root = ET.parse(p).getroot()
            check(root.tag == "{http://www.w3.org/2000/svg}svg",
                  "%s parses as an SVG document (root %s)" % (p, root.tag))
            bars = sum(1 for e in root.iter() if e.get("class", "").startswith("bar "))
            print("      %s: %d waterfall bars" % (p, bars))
        except (ET.ParseError, OSError) as e:
            check(False, "%s does not parse: %s" % (p, e))


def check_dom(dom, expect):
    parser = TextAndTags()
    parser.feed(dom)
    text = fold(" ".join(parser.text))
    check(len(text) > 0, "the DOM has text (%d characters)" % len(text))
    for s in expect:
        check(fold(s) in text, "the DOM text contains %r" % s)
    scripts = [t for t, _ in parser.tags if t in ("script", "img", "link", "iframe")]
    check(not scripts, "the DOM has no script, img, link or iframe element")


def check_png(path, min_colours, min_ink, banner):
    with open(path, "rb") as f:
        data = f.read()
    try:
        width, height, channels, rows = png_decode(data)
    except (ValueError, zlib.error) as e:
        check(False, "%s decodes: %s" % (path, e))
        return
    check(True, "%s decodes: %dx%d, %d channels, %d bytes" % (path, width, height, channels,
                                                             len(data)))
    colours, ink = set(), 0
    for row in rows:
        px = pixels(row, channels)
        colours.update(px)
        ink += sum(1 for p in px if p != b"\xff\xff\xff")
    frac = ink / float(width * height)
    check(len(colours) > min_colours, "the screenshot has %d distinct colours (> %d)"
          % (len(colours), min_colours))
    check(frac > min_ink, "%.1f%% of the screenshot is not white (> %.1f%%)"
          % (100 * frac, 100 * min_ink))
    if banner:
        top = rows[:max(1, height // 50)]
        red = sum(1 for row in top for p in pixels(row, channels)
                  if p[0] > 140 and p[1] < 70 and p[2] < 70)
        share = red / float(len(top) * width)
        check(share > 0.3, "the top rows are %.0f%% banner red (> 30%%)" % (100 * share))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("html")
    ap.add_argument("--expect", action="append", default=[], help="text the page must show")
    ap.add_argument("--svg", action="append", default=[], help="a standalone SVG to parse")
    ap.add_argument("--png", help="where the screenshot goes (default: a temporary file)")
    ap.add_argument("--window", default="1200,2600", help="WIDTH,HEIGHT of the window")
    ap.add_argument("--min-colours", type=int, default=16)
    ap.add_argument("--min-ink", type=float, default=0.03, help="least non-white share")
    ap.add_argument("--banner", action="store_true", help="the red synthetic banner is on top")
    ap.add_argument("--chromium", default="chromium")
    ap.add_argument("--wait", type=float, default=300, help="seconds to wait for chromium")
    ap.add_argument("--timeout", type=float, default=120)
    a = ap.parse_args()
    if not re.fullmatch(r"\d+,\d+", a.window):
        ap.error("--window takes WIDTH,HEIGHT")
    path = os.path.abspath(a.html)
    if not os.path.isfile(path):
        ap.error("%s is not a file" % a.html)
    check_source(path, a.svg)
    binary = find_chromium(a.chromium, a.wait)
    if not binary:
        print("FAIL  %s is not on PATH" % a.chromium)
        return 2
    url = "file://" + path
    tmp = None
    png = a.png
    if not png:
        tmp = tempfile.mkdtemp(prefix="check_report.")
        png = os.path.join(tmp, "report.png")
    try:
        r = chromium(binary, ["--dump-dom"], url, a.timeout)
        if not check(r.returncode == 0, "chromium --dump-dom exits 0"):
            sys.stderr.write(r.stderr.decode("utf-8", "replace")[-2000:])
            return 2
        check_dom(r.stdout.decode("utf-8", "replace"), a.expect)
        png = os.path.abspath(png)
        r = chromium(binary, ["--window-size=" + a.window, "--screenshot=" + png], url, a.timeout)
        if not check(r.returncode == 0 and os.path.isfile(png), "chromium --screenshot exits 0"):
            sys.stderr.write(r.stderr.decode("utf-8", "replace")[-2000:])
            return 2
        check_png(png, a.min_colours, a.min_ink, a.banner)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    print("check_report: %s (%d failed)" % ("FAILED" if failures else "passed", len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
