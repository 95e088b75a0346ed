"""sslscan against the gateway: TLS 1.2 and 1.3 only, no weak cipher, no
compression, no insecure renegotiation, not vulnerable to Heartbleed, and
the certificate chain served is the configured one (checked with openssl
s_client as well).

Writes $MACHI_SEC_OUT/tls.json; exit status 1 on any finding.
"""

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

OUT = os.environ["MACHI_SEC_OUT"]
TMP = os.environ["MACHI_SEC_TMP"]
BASE = os.environ["MACHI_SEC_BASE"]
CA = os.environ["MACHI_SEC_CA"]
WEAK = re.compile(r"NULL|EXP|RC4|RC2|DES|MD5|anon|ADH|AECDH|PSK|SRP|IDEA|SEED|CAMELLIA128|CBC3", re.I)


def pem_blocks(text):
    return [re.sub(r"\s+", "", b) for b in re.findall(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----",
                                                       text, re.S)]


def main():
    hostport = BASE.split("//", 1)[1]
    xml_path = os.path.join(TMP, "sslscan.xml")
    p = subprocess.run(["sslscan", "--no-colour", "--show-certificate", f"--xml={xml_path}", hostport],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=90)
    with open(os.path.join(TMP, "sslscan.out"), "w") as f:
        f.write(p.stdout)
    root = ET.parse(xml_path).getroot()
    test = root.find("ssltest")
    findings = []
    protocols = {}
    for pr in test.findall("protocol"):
        name = f"{pr.get('type').upper()}v{pr.get('version')}"
        protocols[name] = pr.get("enabled") == "1"
        if protocols[name] and name not in ("TLSv1.2", "TLSv1.3"):
            findings.append(f"{name} enabled")
    if not protocols.get("TLSv1.2") and not protocols.get("TLSv1.3"):
        findings.append("neither TLS 1.2 nor 1.3 offered")
    ciphers = []
    for c in test.findall("cipher"):
        ciphers.append(f"{c.get('sslversion')} {c.get('cipher')} ({c.get('bits')} bits, {c.get('strength')})")
        if int(c.get("bits") or 0) < 128 or WEAK.search(c.get("cipher") or "") or \
                c.get("strength") in ("weak", "insecure", "null", "anonymous", "medium"):
            findings.append(f"weak cipher {c.get('sslversion')} {c.get('cipher')}")
        if c.get("sslversion") == "TLSv1.2" and not c.get("cipher", "").startswith(("ECDHE-", "DHE-")):
            findings.append(f"no forward secrecy: {c.get('cipher')}")
    for hb in test.findall("heartbleed"):
        if hb.get("vulnerable") == "1":
            findings.append(f"heartbleed {hb.get('sslversion')}")
    reneg = test.find("renegotiation")
    if reneg is not None and reneg.get("supported") == "1" and reneg.get("secure") != "1":
        findings.append("insecure renegotiation")
    comp = test.find("compression")
    if comp is not None and comp.get("supported") == "1":
        findings.append("TLS compression")
    # what openssl sees: compression, the chain, and that TLS 1.1 is refused
    s = subprocess.run(["openssl", "s_client", "-connect", hostport, "-servername", "localhost", "-showcerts",
                        "-CAfile", CA, "-verify_return_error"], input="", stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=30)
    if "Compression: NONE" not in s.stdout:
        findings.append("openssl s_client does not report 'Compression: NONE'")
    if "Verify return code: 0 (ok)" not in s.stdout:
        findings.append("the chain does not verify against the configured certificate")
    with open(CA) as f:
        configured = pem_blocks(f.read())
    served = pem_blocks(s.stdout)
    if served != configured:
        findings.append(f"served chain ({len(served)} certificates) differs from the configured one "
                        f"({len(configured)})")
    old = subprocess.run(["openssl", "s_client", "-connect", hostport, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"],
                         input="", stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=30)
    if re.search(r"Protocol\s*:\s*TLSv1\.1", old.stdout) and "Cipher is (NONE)" not in old.stdout:
        findings.append("a TLS 1.1 handshake succeeded")
    version = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "sslscan"], capture_output=True,
                             text=True).stdout
    summary = {"tool": "sslscan", "version": version, "protocols": protocols, "ciphers": ciphers,
               "chain_certificates": len(served), "findings": findings}
    import json
    with open(os.path.join(OUT, "tls.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print("protocols:", protocols)
    print("ciphers:", *ciphers, sep="\n  ")
    for fd in findings:
        print("FINDING", fd)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
