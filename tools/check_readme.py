#!/usr/bin/python3
"""check_readme.py - runs the commands of README.md as a reader would.

    tools/check_readme.py BUILD        (from anywhere; BUILD e.g. build)

Every command line of the README's code blocks that runs the CLI, curl,
bcftools or sets B= is run, in order, from the repository root, with
build/ replaced by BUILD, against a genoriskd serving models/ on a free
loopback port (127.0.0.1:8080 in the README becomes that port). Lines that
hold placeholders (DIR, FILE, ...) are usage summaries and are skipped. A
command passes when it exits 0, prints something, and, when it prints a JSON
problem document, its block says that one is expected (the README's error
example). Closes with "readme: N passed, M failed".
"""
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNNABLE = re.compile(r"^(build/genorisk\b|curl\b|bcftools\b|B=)")
PLACEHOLDER = re.compile(r"\bDIR\b|\bFILE\b|\.\.\.|\[--| \| ")


def blocks(text):
    """(lines of each code block), fenced ``` or indented by 4 spaces."""
    out, cur, fenced = [], None, False
    for line in text.splitlines():
        if line.startswith("```"):
            if fenced:
                out.append(cur)
                cur, fenced = None, False
            else:
                cur, fenced = [], True
            continue
        if fenced:
            cur.append(line)
        elif line.startswith("    "):
            if cur is None:
                cur = []
            cur.append(line[4:])
        elif line.strip() and cur is not None:
            out.append(cur)
            cur = None
    if cur:
        out.append(cur)
    return out


def commands(block):
    """The runnable commands of a block, continuation lines joined."""
    cmds, i = [], 0
    while i < len(block):
        line = block[i].strip()
        if line.startswith("$ "):
            line = line[2:]
        i += 1
        while line.endswith("\\") and i < len(block):
            line = line[:-1] + " " + block[i].strip()
            i += 1
        line = re.sub(r"\s+#.*$", "", line)  # a trailing comment
        if RUNNABLE.match(line) and not PLACEHOLDER.search(line.split("#")[0]):
            cmds.append(line)
    return cmds


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    build = sys.argv[1].rstrip("/")
    os.chdir(REPO)
    port = free_port()
    log = tempfile.TemporaryFile()
    daemon = subprocess.Popen([build + "/genoriskd", "--models", "models", "--listen",
                               "127.0.0.1:%d" % port], stdout=log, stderr=log)
    passed = failed = 0
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        with open("README.md", encoding="utf-8") as f:
            readme = f.read()
        env = {}
        for block in blocks(readme):
            problem_expected = any("urn:genorisk:problem" in l for l in block)
            for cmd in commands(block):
                run = cmd.replace("127.0.0.1:8080", "127.0.0.1:%d" % port)
                run = re.sub(r"(^|\s)build/", r"\1" + build + "/", run)
                if run.startswith("B="):
                    env["B"] = run[2:].strip("'\"")
                    continue
                r = subprocess.run(["sh", "-c", run], capture_output=True, timeout=120,
                                   env=dict(os.environ, **env))
                out = r.stdout.decode(errors="replace")
                why = None
                if r.returncode != 0:
                    why = "exit %d: %s" % (r.returncode, r.stderr.decode(errors="replace")[:300])
                elif not out.strip() and not cmd.startswith("bcftools"):
                    why = "printed nothing"
                else:
                    try:
                        doc = json.loads(out)
                    except ValueError:
                        doc = None
                    if isinstance(doc, dict) and str(doc.get("type", "")).startswith(
                            "urn:genorisk:problem") and not problem_expected:
                        why = "answered a problem: %s" % out[:300]
                if why:
                    failed += 1
                    print("FAIL readme: %s\n     %s" % (cmd, why))
                else:
                    passed += 1
                    print("ok   readme: %s" % cmd)
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)
    print("readme: %d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
