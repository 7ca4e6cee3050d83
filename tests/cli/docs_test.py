#!/usr/bin/python3
"""Every subcommand's --help and the README's "Commands and options" section
name the same options, and the option parser knows every option the help
names (none is answered with "unknown option"). Exits 1 naming each
difference."""
import os
import re
import subprocess
import sys

DI = os.environ["DEPTHINDEX"]
README = os.path.join(os.environ["DEPTHINDEX_SOURCE_ROOT"], "README.md")
OPT = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
failures = []


def run(args):
    return subprocess.run([DI] + args, capture_output=True, text=True, timeout=60)


def readme_section(name):
    text = open(README).read()
    m = re.search(r"^### depthindex %s\n(.*?)(?=^##)" % re.escape(name), text, re.M | re.S)
    return m.group(1) if m else None


top = run(["--help"])
if top.returncode != 0:
    sys.exit("depthindex --help: exit %d" % top.returncode)
commands = re.findall(r"^  (\w+) ", top.stdout.split("subcommands:", 1)[1], re.M)
commands = [c for c in commands if c != "version"]
if len(commands) < 5:
    sys.exit("too few subcommands in depthindex --help: %s" % commands)

for name in commands:
    h = run([name, "--help"])
    if h.returncode != 0 or not h.stdout.startswith("usage:"):
        failures.append("%s --help: exit %d, %r" % (name, h.returncode, h.stdout[:80]))
        continue
    in_help = set(OPT.findall(h.stdout)) - {"--help"}
    section = readme_section(name)
    if section is None:
        failures.append("README has no section '### depthindex %s'" % name)
        continue
    in_readme = set(OPT.findall(section)) - {"--help"}
    for o in sorted(in_help - in_readme):
        failures.append("%s: %s is in --help but not in the README" % (name, o))
    for o in sorted(in_readme - in_help):
        # the README may show other commands in examples: only this one's
        if re.search(r"depthindex %s\b[^\n]*%s\b" % (name, re.escape(o)), section) or \
                re.search(r"`%s" % re.escape(o), section):
            failures.append("%s: %s is in the README but not in --help" % (name, o))
    for o in sorted(in_help):
        # alone, then with a value: an option is unknown when both answers
        # call it so
        unknown = lambda r: "unknown option" in r.stderr and o in r.stderr
        r = run([name, o])
        if unknown(r):
            r = run([name, o, "1"])
        if unknown(r):
            failures.append("%s: --help names %s, the parser does not know it: %s"
                            % (name, o, r.stderr.strip()))

v = run(["--version"])
for word in ("engines:", "database backends:", "formats:"):
    if word not in v.stdout:
        failures.append("--version does not list %s: %r" % (word, v.stdout))

for f in failures:
    print("FAIL:", f)
print("%d subcommands checked, %d differences" % (len(commands), len(failures)))
sys.exit(1 if failures else 0)
