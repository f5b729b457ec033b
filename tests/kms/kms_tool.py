#!/usr/bin/env python3
"""Helpers for the KMS end-to-end tests (Python standard library only).

  kms_tool.py keysets FILE   -> one line per KmsKeySet of a KmsResponse (TS 33.180 D.3.3):
                                "VALIDFROM-UNIX USERID SSK RSK PVT" (the key fields' text, no
                                blanks); exit 1 when FILE is not a KmsResponse with a KmsKeyProv
  kms_tool.py revoked FILE   -> one line per KmsCertificate of a KmsResponse: "KMSURI true|false"
                                (its Revoked element; false when absent)
  kms_tool.py unix DATETIME  -> an xs:dateTime ("2025-01-01T00:00:00Z") as Unix seconds
"""
import calendar
import sys
import time
import xml.etree.ElementTree as ET

NS = "{urn:3gpp:ns:mcsecKMSInterface:1.0}"


def unix(text):
    t = text.strip().rstrip("Z")
    if "." in t:
        t = t.split(".")[0]
    return calendar.timegm(time.strptime(t, "%Y-%m-%dT%H:%M:%S"))


def field(ks, name):
    # the key fields are direct children, possibly wrapped (EncKey...) depending on the codec
    for e in ks.iter():
        if e.tag == NS + name or e.tag == name:
            return "".join("".join(e.itertext()).split())
    return "-"


def keysets(path):
    root = ET.parse(path).getroot()
    found = root.findall(".//" + NS + "KmsKeySet")
    if root.tag != NS + "KmsResponse" or root.find(".//" + NS + "KmsKeyProv") is None:
        return 1
    for ks in found:
        vf = field(ks, "ValidFrom")
        print(unix(vf) if vf != "-" else "-", field(ks, "UserID"), field(ks, "UserSigningKeySSK"),
              field(ks, "UserDecryptKey"), field(ks, "UserPubTokenPVT"))
    return 0


def revoked(path):
    root = ET.parse(path).getroot()
    if root.tag != NS + "KmsResponse":
        return 1
    for c in root.iter(NS + "KmsCertificate"):
        uri = c.find(NS + "KmsUri")
        rv = c.find(NS + "Revoked")
        print(uri.text if uri is not None else "-",
              (rv.text or "").strip() if rv is not None else "false")
    return 0


def main(argv):
    if len(argv) == 3 and argv[1] == "keysets":
        return keysets(argv[2])
    if len(argv) == 3 and argv[1] == "revoked":
        return revoked(argv[2])
    if len(argv) == 3 and argv[1] == "unix":
        print(unix(argv[2]))
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
