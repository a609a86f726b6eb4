#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Keep docs/pv-abi.md, include/capsule/pv_abi.h and the conformance suite in step.

    check-rules.py              check; one line per problem, exit 1 if there is any
    check-rules.py --self-test  break the inputs in four ways and check each is caught

The rules are the **R-AREA-n** definitions in the document; section 14's table maps each
rule to cases; `run.sh --list` says which rules each case tests. It is an error if a rule
has no case, if the table or a case names a rule that is not defined, if the table and the
cases disagree, if the table names a case that does not exist, if any file of the suite,
the header or the document mentions an undefined rule, or if the header points to a
section ("§n") the document does not have.
"""
import glob
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
RULE = re.compile(r"\bR-[A-Z]+-[0-9]+\b")


def load():
    doc = open(os.path.join(ROOT, "docs", "pv-abi.md")).read()
    header = open(os.path.join(ROOT, "include", "capsule", "pv_abi.h")).read()
    listing = subprocess.run(["bash", os.path.join(HERE, "run.sh"), "--list"], check=True,
                             capture_output=True, text=True).stdout
    cases = {}
    for line in listing.splitlines():
        name, *rules = line.split()
        cases[name] = set(r for r in rules if r != "-")
    suite = {}
    for path in sorted(glob.glob(os.path.join(HERE, "*"))):
        if os.path.isfile(path) and not path.endswith("check-rules.py"):
            suite[os.path.relpath(path, ROOT)] = open(path, errors="replace").read()
    return doc, header, cases, suite


def check(doc, header, cases, suite):
    errors = []
    defined = re.findall(r"^\*\*(R-[A-Z]+-[0-9]+)\*\*", doc, re.M)
    for r in sorted(set(d for d in defined if defined.count(d) > 1)):
        errors.append("docs/pv-abi.md defines %s more than once" % r)
    defined = set(defined)

    table = {}
    m = re.search(r"^## 14\. .*?(?=^## )", doc, re.M | re.S)
    for row in re.findall(r"^\| (R-[A-Z]+-[0-9]+) \| (.*?) \|$", m.group(0) if m else "", re.M):
        table.setdefault(row[0], set()).update(c.strip() for c in row[1].split(",") if c.strip())
    for r in sorted(defined - set(table)):
        errors.append("rule %s has no row in the conformance table" % r)
    for r, names in sorted(table.items()):
        if r not in defined:
            errors.append("the conformance table names %s, which is not defined" % r)
        for c in sorted(names):
            if c not in cases:
                errors.append("the conformance table lists case %s for %s; run.sh has no such "
                              "case" % (c, r))
            elif r not in cases[c]:
                errors.append("the conformance table lists case %s for %s; the case does not "
                              "test it" % (c, r))
    for c, rules in sorted(cases.items()):
        for r in sorted(rules):
            if r not in defined:
                errors.append("case %s names %s, which is not defined" % (c, r))
            elif c not in table.get(r, ()):
                errors.append("case %s tests %s; the conformance table does not list it there"
                              % (c, r))

    for where, text in [("docs/pv-abi.md", doc), ("include/capsule/pv_abi.h", header)] + \
            sorted(suite.items()):
        for r in sorted(set(RULE.findall(text)) - defined):
            errors.append("%s mentions %s, which is not defined" % (where, r))

    sections = set(re.findall(r"^##+ ([0-9]+(?:\.[0-9]+)?)\.? ", doc, re.M))
    for s in sorted(set(re.findall(r"§([0-9]+(?:\.[0-9]+)?)", header)) - sections):
        errors.append("include/capsule/pv_abi.h points to §%s, which docs/pv-abi.md lacks" % s)
    return errors


def self_test(doc, header, cases, suite):
    """Each mutation breaks one promise; the check must notice every one."""
    first = sorted(cases)[-1]
    bogus = "R-HC-" + "999"  # spelled in two pieces: this file is not scanned, but be safe
    mutations = {
        "a rule without a table row": (re.sub(r"^\| R-HC-1 \|.*\n", "", doc, flags=re.M),
                                       header, cases, suite),
        "a case naming an undefined rule": (doc, header,
                                            dict(cases, **{first: cases[first] | {bogus}}),
                                            suite),
        "the table and a case disagreeing": (doc, header,
                                             dict(cases, **{"hc-eax-only": set()}), suite),
        "the header pointing to a missing section": (doc, header + "/* §99 */\n", cases,
                                                     suite),
    }
    caught = 0
    for what, inputs in mutations.items():
        if check(*inputs):
            caught += 1
        else:
            print("self-test: not caught: %s" % what)
    print("self-test: %d of %d mutations caught" % (caught, len(mutations)))
    return caught == len(mutations)


def main():
    inputs = load()
    if sys.argv[1:] == ["--self-test"]:
        if check(*inputs):
            print("self-test: the real inputs already fail the check")
            return 1
        return 0 if self_test(*inputs) else 1
    errors = check(*inputs)
    for e in errors:
        print("check-rules: " + e)
    doc_rules = len(set(re.findall(r"^\*\*(R-[A-Z]+-[0-9]+)\*\*", inputs[0], re.M)))
    print("check-rules: %d rules, %d cases, %d problems" % (doc_rules, len(inputs[2]),
                                                            len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
