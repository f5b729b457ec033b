#!/usr/bin/env python3
"""Small helpers for the IdMS end-to-end tests (Python standard library only).

  idms_tool.py pkce                       -> "VERIFIER CHALLENGE" (RFC 7636 S256, 32 random octets)
  idms_tool.py jwt TOKEN header|claims    -> the decoded JOSE header / claims as JSON (no check)
  idms_tool.py get FILE|- PATH            -> a value from JSON: PATH like "keys.0.kid"; strings
                                             print raw, other values as JSON; exit 1 if absent
  idms_tool.py kids FILE|-                -> the "kid"s of a JWK Set, one a line, sorted
  idms_tool.py jwk FILE|- KID             -> the JWK of that kid from a JWK Set (exit 1 if none)
  idms_tool.py flip TOKEN                 -> TOKEN with one character of its signature changed
  idms_tool.py count STORE_URL TABLE [WHERE] -> rows in TABLE (sqlite file or PostgreSQL via psql)
  idms_tool.py urlparam URL NAME          -> a query parameter of URL (exit 1 if absent)
  idms_tool.py hidden FILE                -> the hidden inputs of the HTML form in FILE, as
                                             x-www-form-urlencoded "name=value&..." (exit 1 if none)
"""
import base64
import html.parser
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import urllib.parse


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def b64url_dec(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def load(src):
    return json.load(sys.stdin if src == "-" else open(src))


def main(argv):
    cmd = argv[1]
    if cmd == "pkce":
        verifier = b64url(os.urandom(32))
        challenge = b64url(hashlib.sha256(verifier.encode()).digest())
        print(verifier, challenge)
    elif cmd == "jwt":
        parts = argv[2].split(".")
        if len(parts) != 3:
            sys.exit("not a compact JWS")
        print(json.dumps(json.loads(b64url_dec(parts[0 if argv[3] == "header" else 1]))))
    elif cmd == "get":
        v = load(argv[2])
        for k in argv[3].split("."):
            if isinstance(v, list):
                if not k.isdigit() or int(k) >= len(v):
                    sys.exit(1)
                v = v[int(k)]
            elif isinstance(v, dict) and k in v:
                v = v[k]
            else:
                sys.exit(1)
        print(v if isinstance(v, str) else json.dumps(v))
    elif cmd == "kids":
        for kid in sorted(k.get("kid", "") for k in load(argv[2])["keys"]):
            print(kid)
    elif cmd == "jwk":
        for k in load(argv[2])["keys"]:
            if k.get("kid") == argv[3]:
                print(json.dumps(k))
                return
        sys.exit(1)
    elif cmd == "flip":
        h, p, s = argv[2].split(".")
        # change a character in the middle of the signature (not the last one, whose low bits
        # may be padding that decoders ignore)
        i = len(s) // 2
        s = s[:i] + ("A" if s[i] != "A" else "B") + s[i + 1:]
        print(".".join((h, p, s)))
    elif cmd == "count":
        url, table = argv[2], argv[3]
        where = (" WHERE " + argv[4]) if len(argv) > 4 else ""
        sql = "SELECT COUNT(*) FROM %s%s" % (table, where)
        if url.startswith(("postgresql://", "postgres://")):
            out = subprocess.run(["psql", "-XAtq", "-d", url, "-c", sql], check=True,
                                 capture_output=True, text=True).stdout
            print(int(out.strip()))
        else:
            path = url[len("sqlite:"):] if url.startswith("sqlite:") else url
            db = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=5)
            print(db.execute(sql).fetchone()[0])
    elif cmd == "urlparam":
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(argv[2]).query)
        if argv[3] not in q:
            sys.exit(1)
        print(q[argv[3]][0])
    elif cmd == "hidden":
        class Form(html.parser.HTMLParser):
            fields = []

            def handle_starttag(self, tag, attrs):
                a = dict(attrs)
                if tag == "input" and a.get("type") == "hidden" and "name" in a:
                    self.fields.append((a["name"], a.get("value") or ""))
        f = Form()
        f.feed(open(argv[2]).read())
        if not f.fields:
            sys.exit(1)
        print(urllib.parse.urlencode(f.fields))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv)
